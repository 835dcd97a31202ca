"""The CDS Hooks 2.0 service response as types: cards, sources, links, suggestions, actions.

Written from the tables of CDS Hooks 2.0.1 ("CDS Service Response", "Card Attributes",
"Source", "Suggestion", "Action", "Link", "Coding"; ../schemas/cds-hooks-2.0-response
.schema.json checks the same at run time). They are TypedDicts, so a card is still the plain
dict that goes out as JSON, byte for byte. An OPTIONAL member is ``NotRequired``: the spec
forbids null and empty values, so a member without a value is left out, never set to None.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

Indicator = Literal["info", "warning", "critical"]
SelectionBehavior = Literal["at-most-one", "any"]
ActionType = Literal["create", "update", "delete"]
LinkType = Literal["absolute", "smart"]

# A FHIR resource (an object with a resourceType) and an extension (a pre-coordinated JSON
# object, its keys namespaced): JSON objects whose members these types do not model.
FhirResource = dict[str, object]
Extension = dict[str, object]


class Coding(TypedDict):
    """A code in a code system, e.g. a card's ``source.topic`` (display optional there)."""

    system: str
    code: str
    display: NotRequired[str]


class OverrideReason(TypedDict):
    """One of ``card.overrideReasons``: a Coding whose display the service MUST give.

    (The feedback request's ``overrideReason``, which carries such a Coding back as its
    ``reason``, is read by service/cdshooks/feedback.py.)
    """

    system: str
    code: str
    display: str


class Source(TypedDict):
    label: str
    url: NotRequired[str]
    icon: NotRequired[str]
    topic: NotRequired[Coding]


class Action(TypedDict):
    type: ActionType
    description: str
    resource: NotRequired[FhirResource]  # required for create and update
    resourceId: NotRequired[str]  # a relative reference, for delete
    extension: NotRequired[Extension]


class Suggestion(TypedDict):
    label: str
    uuid: NotRequired[str]
    isRecommended: NotRequired[bool]
    actions: NotRequired[list[Action]]
    extension: NotRequired[Extension]


class Link(TypedDict):
    label: str
    url: str
    type: LinkType
    appContext: NotRequired[str]  # smart links only
    autolaunchable: NotRequired[bool]
    extension: NotRequired[Extension]


class Card(TypedDict):
    uuid: NotRequired[str]
    summary: str  # one sentence, under 140 characters
    detail: NotRequired[str]  # GitHub Flavored Markdown
    indicator: Indicator
    source: Source
    suggestions: NotRequired[list[Suggestion]]
    selectionBehavior: NotRequired[SelectionBehavior]  # required with suggestions
    overrideReasons: NotRequired[list[OverrideReason]]
    links: NotRequired[list[Link]]
    extension: NotRequired[Extension]


class CdsResponse(TypedDict):
    """The body of a successful hook answer: ``{"cards": []}`` when nothing applies."""

    cards: list[Card]
    systemActions: NotRequired[list[Action]]
    extension: NotRequired[Extension]
