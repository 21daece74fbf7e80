"""The threat-model format, version 1: the single source of truth.

Every fact about the format lives in these classes: field names, types, allowed
values, which fields refer to which elements, and the descriptions that editors
show.  The loader validates against them, the JSON Schema is generated from them
and the rest of tm-docs reads the frozen instances they produce.

The classes know nothing of YAML, git, Graphviz or HTML.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    model_validator,
)

FORMAT_VERSION = 1

# Most elements of each kind one model may have.
MAX_ITEMS = {
    "boundaries": 50,
    "components": 200,
    "flows": 400,
    "assets": 300,
    "threats": 1000,
    "mitigations": 1000,
}

# --- reference metadata ---------------------------------------------------


@dataclass(frozen=True)
class RefTo:
    """Marks a field whose value(s) are ids of elements in the given collections.

    The integrity checks read this marker to resolve references, so the format
    itself says what may point at what.
    """

    collections: tuple[str, ...]

    def __init__(self, *collections: str) -> None:
        object.__setattr__(self, "collections", collections)


# --- scalar types ---------------------------------------------------------

# Text fields are strict: YAML turns `version: 1.10` into the number 1.1 and
# `answer: no` into false; silently converting those back to text would lose
# what the author wrote, so the loader asks them to quote the value instead.
# Control characters (other than tab and line breaks) are refused: they break
# diagrams and terminals and have no business in a model.
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
# Titles, names and other short values are one line: no control character at all,
# line breaks (also U+0085, U+2028 and U+2029) and tabs included.
LINE_PATTERN = r"^[^\x00-\x1f\x7f\x85\u2028\u2029]*$"
# Python-Markdown slows down quadratically on long runs of '[' and similar
# link syntax; no real description needs more of them than this.
MAX_MARKDOWN_BRACKETS = 500
# Markdown fields of one model together: rendering Markdown costs far more than
# reading it, so this bounds a model's build time (real models hold a few
# thousand characters of it; checkout, the largest example, about 20,000).
MAX_MARKDOWN_PER_MODEL = 200_000
MARKDOWN_FIELDS = ("description", "note")


def _tame_markdown(value: str) -> str:
    if value.count("[") > MAX_MARKDOWN_BRACKETS:
        raise ValueError(
            f"has {value.count('[')} '[' characters; Markdown fields may have at most "
            f"{MAX_MARKDOWN_BRACKETS} (links and brackets); shorten the text"
        )
    return value


Text = Annotated[
    str, Strict(), StringConstraints(min_length=1, max_length=20_000, pattern=TEXT_PATTERN)
]
ShortText = Annotated[
    str, Strict(), StringConstraints(min_length=1, max_length=200, pattern=LINE_PATTERN)
]
Markdown = Annotated[
    str,
    Strict(),
    StringConstraints(max_length=20_000, pattern=TEXT_PATTERN),
    AfterValidator(_tame_markdown),
    Field(json_schema_extra={"x-tm-docs-markup": "markdown"}),
]

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
MODEL_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
REFERENCE_PATTERN = r"^(CWE-[0-9]{1,5}|CAPEC-[0-9]{1,5}|https://\S+)$"
TICKET_PATTERN = r"^(https?://\S+|[A-Za-z][A-Za-z0-9_.-]*-?[0-9]+|#[0-9]+)$"
COMMIT_PATTERN = r"^[0-9a-f]{7,40}$"

ElementId = Annotated[str, Strict(), StringConstraints(pattern=ID_PATTERN)]
SUGGESTION_KEY_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}@[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
SuggestionKey = Annotated[str, Strict(), StringConstraints(pattern=SUGGESTION_KEY_PATTERN)]
# Names of the site-wide pages; a model with one of these ids would take its URL.
RESERVED_MODEL_IDS = frozenset(
    {"index", "backlog", "heatmap", "stride", "assets", "coverage", "stale", "controls"}
)


def _not_reserved(value: str) -> str:
    if value in RESERVED_MODEL_IDS:
        raise ValueError(
            f"'{value}' is the name of a site-wide page and cannot be a model id "
            f"(reserved: {', '.join(sorted(RESERVED_MODEL_IDS))}); choose another id"
        )
    return value


ModelId = Annotated[
    str, Strict(), StringConstraints(pattern=MODEL_ID_PATTERN), AfterValidator(_not_reserved)
]
Reference = Annotated[str, Strict(), StringConstraints(pattern=REFERENCE_PATTERN)]
Ticket = Annotated[str, Strict(), StringConstraints(pattern=TICKET_PATTERN)]
CommitId = Annotated[str, Strict(), StringConstraints(pattern=COMMIT_PATTERN)]
Score = Annotated[int, Strict(), Field(ge=1, le=5)]
Glob = Annotated[
    str,
    Strict(),
    # Matched in linear time (analysis/globs.py), so any number of wildcards is safe.
    StringConstraints(min_length=1, max_length=500, pattern=LINE_PATTERN),
]

# Plain-language explanations of the patterns above, for error messages.
PATTERN_HELP: dict[str, str] = {
    TEXT_PATTERN: "it contains a control character; remove it (tabs and line breaks are fine)",
    LINE_PATTERN: "it must be one line: remove the line break, tab or other control character",
    ID_PATTERN: "use 1-64 letters, digits, '-' or '_', starting with a letter or digit "
    "(for example 'order-service')",
    MODEL_ID_PATTERN: "use 1-64 lowercase letters, digits or '-', starting with a letter or "
    "digit (for example 'checkout'); it becomes part of the site's URLs",
    REFERENCE_PATTERN: "write a CWE or CAPEC id such as 'CWE-347' or 'CAPEC-196', "
    "or an https:// link",
    TICKET_PATTERN: "write a ticket key such as 'PAY-123', an issue number such as '#42', "
    "or an http(s):// link",
    COMMIT_PATTERN: "write a git commit hash: 7 to 40 lowercase hexadecimal digits",
    SUGGESTION_KEY_PATTERN: "write the key of a suggested threat, 'rule-id@element-id', "
    "as the site and 'tm-docs check' show it",
}


TAG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,39}$"
ATTRIBUTE_KEY_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,39}(\.[A-Za-z0-9_-]{1,64}){0,3}$"
MAX_TAGS = 20
MAX_ATTRIBUTES = 50
PATTERN_HELP[TAG_PATTERN] = (
    "a tag is one word of 1-40 letters, digits, '-', '_', '.' or '+', starting with a "
    "letter or digit (for example 'pci' or 'internet-facing')"
)
PATTERN_HELP[ATTRIBUTE_KEY_PATTERN] = (
    "an attribute key is a name of letters, digits, '-' or '_', optionally namespaced "
    "with dots (for example 'otm.trustRating' or 'tm-docs.review')"
)
Tag = Annotated[str, Strict(), StringConstraints(pattern=TAG_PATTERN)]
AttributeKey = Annotated[str, Strict(), StringConstraints(pattern=ATTRIBUTE_KEY_PATTERN)]
AttributeValue = Annotated[str, Strict(), StringConstraints(max_length=2_000, pattern=LINE_PATTERN)]


def _tags() -> Any:
    return Field(
        default_factory=list,
        max_length=MAX_TAGS,
        description="Short words that classify the element, e.g. 'pci', 'internet-facing'.",
    )


def _attributes() -> Any:
    return Field(
        default_factory=dict,
        max_length=MAX_ATTRIBUTES,
        description="Facts without a field of their own, as one-line text under namespaced "
        "keys, e.g. 'otm.trustRating: \"80\"'; importers keep what has no place here.",
    )


# --- controls -------------------------------------------------------------
#
# A control a mitigation implements, named as `namespace:identifier` or
# `namespace:version:identifier`: `asvs:4.0.3:V5.3.4`, `nist-800-53:AC-3`,
# `iso-27001:2022:A.8.5`, `cwe:287`.  The namespace names the framework in
# lowercase; for the frameworks below the identifier is checked as well, any
# other namespace is allowed with an identifier of the general shape.  Only
# identifiers: what a control says stays in its framework's own documents.

CONTROL_NAMESPACE_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
CONTROL_VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,19}$"
CONTROL_IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._()/-]{0,63}$"
ASVS_REQUIREMENT_PATTERN = r"^V[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{1,2}$"
MAX_CONTROLS = 30
PATTERN_HELP[ASVS_REQUIREMENT_PATTERN] = (
    "write an OWASP ASVS requirement as 'V' and chapter.section.requirement, e.g. 'V5.3.4'"
)

# namespace -> (pattern of its identifiers, what they look like)
KNOWN_FRAMEWORKS: dict[str, tuple[str, str]] = {
    "asvs": (
        ASVS_REQUIREMENT_PATTERN,
        "an OWASP ASVS requirement is 'V' and chapter.section.requirement, e.g. V5.3.4",
    ),
    "nist-800-53": (
        r"^[A-Z]{2}-[0-9]{1,2}(\([0-9]{1,2}\))?$",
        "a NIST SP 800-53 control is its family and number, with an optional enhancement, "
        "e.g. AC-3 or AC-2(1)",
    ),
    "iso-27001": (
        r"^(A\.)?[0-9]{1,2}(\.[0-9]{1,2}){1,2}$",
        "an ISO/IEC 27001 control is its Annex A number, e.g. A.8.5 (2022) or A.9.4.1 (2013)",
    ),
    "cwe": (r"^[0-9]{1,5}$", "a CWE id is its number, e.g. 287"),
    "capec": (r"^[0-9]{1,5}$", "a CAPEC id is its number, e.g. 112"),
    "pci-dss": (
        r"^[0-9]{1,2}(\.[0-9]{1,2}){0,3}$",
        "a PCI DSS requirement is its number, e.g. 8.3.1",
    ),
}


@dataclass(frozen=True)
class ControlId:
    """A control id taken apart: framework namespace, optional version, identifier."""

    namespace: str
    version: str | None
    identifier: str

    @classmethod
    def parse(cls, text: str) -> ControlId:
        parts = text.split(":")
        if len(parts) == 2:
            return cls(parts[0], None, parts[1])
        return cls(parts[0], parts[1], parts[2])

    @property
    def framework(self) -> str:
        """The namespace with its version, e.g. 'asvs:4.0.3': controls group by it."""
        return f"{self.namespace}:{self.version}" if self.version else self.namespace

    def __str__(self) -> str:
        return f"{self.framework}:{self.identifier}"


def check_control(value: str) -> str:
    """Check a control id's grammar; the message says how to write it."""
    parts = value.split(":")
    shape = (
        "write a control as namespace:identifier or namespace:version:identifier, e.g. "
        "'nist-800-53:AC-3' or 'asvs:4.0.3:V5.3.4'"
    )
    if len(parts) not in (2, 3):
        raise ValueError(f"'{value}' is not a control id: {shape}")
    namespace, identifier = parts[0], parts[-1]
    if not re.match(CONTROL_NAMESPACE_PATTERN, namespace):
        lower = ":".join([namespace.lower(), *parts[1:]])
        hint = (
            f" (write '{lower}')" if re.match(CONTROL_NAMESPACE_PATTERN, namespace.lower()) else ""
        )
        raise ValueError(
            f"'{value}': the namespace '{namespace}' must be 1-40 lowercase letters, digits "
            f"or '-', starting with a letter or digit (e.g. 'asvs', 'nist-800-53'){hint}"
        )
    if len(parts) == 3 and not re.match(CONTROL_VERSION_PATTERN, parts[1]):
        raise ValueError(
            f"'{value}': the version '{parts[1]}' must be 1-20 letters, digits, '.', '_' or "
            f"'-' (e.g. '4.0.3'), or be left out: {shape}"
        )
    if not re.match(CONTROL_IDENTIFIER_PATTERN, identifier):
        raise ValueError(
            f"'{value}': the identifier '{identifier}' must be 1-64 letters, digits, '.', "
            "'_', '-', '/' or parentheses, starting with a letter or digit"
        )
    known = KNOWN_FRAMEWORKS.get(namespace)
    if known is not None and not re.match(known[0], identifier):
        raise ValueError(
            f"'{value}': '{identifier}' is not an identifier of {namespace}: {known[1]}"
        )
    return value


def _distinct(values: list[str]) -> list[str]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"lists '{value}' twice; remove one")
        seen.add(value)
    return values


ControlText = Annotated[
    str, Strict(), StringConstraints(max_length=140), AfterValidator(check_control)
]


# A security property the model may record: true, false, or left out (not known).
Fact = Annotated[bool, Strict()] | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


# --- enumerations ---------------------------------------------------------


class Stride(str, Enum):
    """The six STRIDE threat categories."""

    SPOOFING = "spoofing"
    TAMPERING = "tampering"
    REPUDIATION = "repudiation"
    INFORMATION_DISCLOSURE = "information_disclosure"
    DENIAL_OF_SERVICE = "denial_of_service"
    ELEVATION_OF_PRIVILEGE = "elevation_of_privilege"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()

    @property
    def letter(self) -> str:
        return self.value[0].upper()


class TrustLevel(str, Enum):
    """How far a trust boundary's contents are trusted, least trusted first."""

    UNTRUSTED = "untrusted"
    PARTNER = "partner"
    DMZ = "dmz"
    INTERNAL = "internal"
    RESTRICTED = "restricted"

    @property
    def rank(self) -> int:
        return list(TrustLevel).index(self)


class ComponentKind(str, Enum):
    """The kinds of data-flow-diagram element."""

    EXTERNAL_ENTITY = "external_entity"
    PROCESS = "process"
    DATA_STORE = "data_store"
    QUEUE = "queue"


class AssetKind(str, Enum):
    DATA_STORE = "data_store"
    SECRET = "secret"
    CRITICAL_API = "critical_api"
    ADMIN_INTERFACE = "admin_interface"
    BACKGROUND_JOB = "background_job"
    DATA_SET = "data_set"


class Classification(str, Enum):
    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    RESTRICTED = "restricted"


class AuthMethod(str, Enum):
    NONE = "none"
    MTLS = "mtls"
    JWT = "jwt"
    OAUTH2 = "oauth2"
    OIDC = "oidc"
    SAML = "saml"
    API_KEY = "api_key"
    SESSION = "session"
    BASIC = "basic"
    SIGNATURE = "signature"
    CLOUD_IAM = "cloud_iam"
    OTHER = "other"


class FlowKind(str, Enum):
    """What kind of exchange a flow is."""

    REQUEST = "request"
    WEBHOOK = "webhook"
    EVENT = "event"
    STREAM = "stream"
    BATCH = "batch"


class TokenCheck(str, Enum):
    """What the destination verifies of a bearer token."""

    SIGNATURE = "signature"
    EXPIRY = "expiry"
    AUDIENCE = "audience"
    ISSUER = "issuer"
    SCOPE = "scope"


class ClientKind(str, Enum):
    """Who is on the calling side of a flow."""

    HUMAN = "human"
    SERVICE = "service"


class InputFormat(str, Enum):
    """Formats of input a component accepts and parses."""

    JSON = "json"
    XML = "xml"
    YAML = "yaml"
    SERIALIZED_OBJECTS = "serialized_objects"
    FILES = "files"
    FORM = "form"
    TEXT = "text"


class DeliveryRole(str, Enum):
    """A component's part in delivering software to production."""

    SOURCE_REPOSITORY = "source_repository"
    BUILD_SERVER = "build_server"
    ARTIFACT_REGISTRY = "artifact_registry"
    DEPLOY_TARGET = "deploy_target"


class Deployment(str, Enum):
    """How new versions reach a deploy target."""

    PULL = "pull"
    PUSH = "push"


class ThreatStatus(str, Enum):
    OPEN = "open"
    MITIGATED = "mitigated"
    ACCEPTED = "accepted"
    TRANSFERRED = "transferred"
    FALSE_POSITIVE = "false_positive"


class MitigationStatus(str, Enum):
    PROPOSED = "proposed"
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"


# --- elements -------------------------------------------------------------


_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _plain_date(value: Any) -> Any:
    # pydantic would read 0 as 1970-01-01 and accept timestamps and midnight
    # datetimes; a review date is a calendar day written as YYYY-MM-DD.
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and _DAY.match(value):
        return value
    raise ValueError(f"'{value}' is not a date; write the day as YYYY-MM-DD")


Day = Annotated[dt.date, BeforeValidator(_plain_date)]


class Review(_Strict):
    """An explicit review marker: 'this model was checked against the architecture'."""

    model_config = ConfigDict(
        json_schema_extra={"anyOf": [{"required": ["date"]}, {"required": ["commit"]}]}
    )

    date: Day | None = Field(None, description="Day of the review (YYYY-MM-DD).")
    commit: CommitId | None = Field(
        None, description="Commit of the repository that the review looked at."
    )
    by: list[ShortText] = Field(default_factory=list, description="Who reviewed.")
    note: Markdown = Field("", description="What the review covered or concluded.")

    @model_validator(mode="after")
    def _date_or_commit(self) -> Review:
        if self.date is None and self.commit is None:
            raise ValueError(DATE_OR_COMMIT_NEEDED)
        return self


class Scope(_Strict):
    in_scope: list[Text] = Field(default_factory=list, description="What the model covers.")
    out_of_scope: list[Text] = Field(
        default_factory=list, description="What the model deliberately leaves out, and why."
    )


class OutOfScope(_Strict):
    """Marks an element as deliberately left out of the analysis."""

    reason: Text = Field(description="Why the element is not analysed.")


def _out_of_scope() -> Any:
    return Field(
        None,
        description="Set to leave the element out of STRIDE coverage and suggested threats; "
        "the model page lists it with the reason.",
    )


class Asset(_Strict):
    """Something worth protecting: data, a key, an API, an admin interface, a job."""

    id: ElementId
    title: ShortText
    kind: AssetKind
    classification: Classification
    description: Markdown = ""
    location: Annotated[list[ElementId], RefTo("components")] = Field(
        default_factory=list, description="Ids of the components where the asset lives."
    )
    integrity: Classification | None = Field(
        None,
        description="How much the asset's integrity matters, on the classification scale "
        "(public: not at all, restricted: most).",
    )
    availability: Classification | None = Field(
        None,
        description="How much the asset's availability matters, on the classification scale "
        "(public: not at all, restricted: most).",
    )
    out_of_scope: OutOfScope | None = _out_of_scope()
    tags: list[Tag] = _tags()
    attributes: dict[AttributeKey, AttributeValue] = _attributes()


class Boundary(_Strict):
    """A trust boundary: inside it, one identity and one level of trust hold."""

    id: ElementId
    title: ShortText
    trust: TrustLevel = Field(description="How far what runs inside is trusted.")
    parent: Annotated[ElementId | None, RefTo("boundaries")] = Field(
        None, description="Id of the enclosing boundary, for nested boundaries."
    )
    description: Markdown = ""
    tags: list[Tag] = _tags()
    attributes: dict[AttributeKey, AttributeValue] = _attributes()


class Component(_Strict):
    """An element of the data-flow diagram."""

    id: ElementId
    title: ShortText
    kind: ComponentKind
    boundary: Annotated[ElementId | None, RefTo("boundaries")] = Field(
        None,
        description="Id of the innermost trust boundary the component runs in; "
        "leave out for components outside every boundary (e.g. the internet).",
    )
    owner: ShortText | None = Field(None, description="Owning service or team.")
    technology: ShortText | None = Field(
        None, description="What it is built with, e.g. 'postgresql', 'kafka', 'nginx'."
    )
    description: Markdown = ""
    data: Annotated[list[ElementId], RefTo("assets")] = Field(
        default_factory=list, description="Ids of the assets the component handles."
    )
    paths: list[Glob] = Field(
        default_factory=list,
        description="Repository paths (globs) of the code and infrastructure that implement it.",
    )
    # Security properties; leave out what is not known. Rules suggest threats from them.
    encrypted_at_rest: Fact = Field(None, description="Stored data is encrypted at rest.")
    audit_log: Fact = Field(
        None, description="Sensitive actions are written to an audit trail that names the actor."
    )
    logs_sensitive_data: Fact = Field(
        None, description="Secrets or personal data can end up in its logs."
    )
    privileged: Fact = Field(
        None, description="Runs with more privilege than its callers (admin, root, wide IAM role)."
    )
    rate_limited: Fact = Field(None, description="Limits how much each caller can ask of it.")
    bounded_consumption: Fact = Field(
        None,
        description="As a consumer of queues or streams: bounds concurrency, fan-out and retries.",
    )
    accepts: list[InputFormat] | None = Field(
        None,
        description="Formats of input it parses (json, xml, yaml, serialized_objects, files, "
        "form, text); leave out if not known.",
    )
    escapes_input: Fact = Field(
        None,
        description="Builds queries, commands, file paths and markup from input only through "
        "parameterised APIs or strict validation, never by pasting input into them.",
    )
    fetches_input_urls: Fact = Field(
        None,
        description="Makes outbound requests to addresses that input can choose or influence "
        "(URL previews, webhooks, imports from a link).",
    )
    secrets_in_vault: Fact = Field(
        None,
        description="The secrets it uses come from a secrets manager or vault at run time, not "
        "from code, images, configuration files or the repository.",
    )
    hardened: Fact = Field(
        None,
        description="Runs on a hardened, regularly checked baseline (CIS benchmark or similar "
        "for its host, image or cloud account).",
    )
    delivery_role: DeliveryRole | None = Field(
        None,
        description="Its part in delivering software: source_repository, build_server, "
        "artifact_registry or deploy_target.",
    )
    deployment: Deployment | None = Field(
        None,
        description="For a deploy target: whether it pulls new versions or the pipeline pushes "
        "them with credentials to it.",
    )
    pinned_dependencies: Fact = Field(
        None,
        description="Base images and dependencies are pinned by digest or hash and updates "
        "are reviewed.",
    )
    out_of_scope: OutOfScope | None = _out_of_scope()
    tags: list[Tag] = _tags()
    attributes: dict[AttributeKey, AttributeValue] = _attributes()


class Authentication(_Strict):
    method: AuthMethod = Field(description="How the source proves who it is.")
    identity: ShortText | None = Field(
        None, description="The identity the destination learns, e.g. 'customer'."
    )
    checks: list[TokenCheck] | None = Field(
        None,
        description="For tokens (jwt, oauth2, oidc): what the destination verifies; "
        "leave out if not known, write [] if it verifies nothing.",
    )
    presents_token: Fact = Field(
        None,
        description="For tokens: the source presents a bearer token that the destination "
        "accepts as proof; false for a flow that obtains tokens (an authorisation-code "
        "exchange) rather than presenting one.",
    )
    client: ClientKind | None = Field(
        None, description="Who authenticates: a human (through a client) or a service."
    )
    second_factor: Fact = Field(
        None, description="For human clients: a second factor is required to sign in."
    )
    on_behalf_of_user: Fact = Field(
        None,
        description="The end user's identity travels with the call and the destination "
        "authorises each request against it.",
    )
    note: Text | None = None


class Flow(_Strict):
    """Data moving from one component to another."""

    id: ElementId
    title: ShortText | None = Field(None, description="Short label for tables and the diagram.")
    source: Annotated[ElementId, RefTo("components")]
    destination: Annotated[ElementId, RefTo("components")]
    data: Annotated[list[ElementId], RefTo("assets")] = Field(
        default_factory=list, description="Ids of the assets the flow carries."
    )
    protocol: ShortText | None = Field(None, description="e.g. 'HTTPS', 'gRPC', 'AMQP'.")
    authentication: Authentication | None = Field(
        None, description="How the source is authenticated; leave out if not known yet."
    )
    encrypted: Annotated[bool, Strict()] | None = Field(
        None, description="Whether the flow is encrypted in transit; leave out if not known yet."
    )
    bidirectional: Annotated[bool, Strict()] = False
    kind: FlowKind = Field(FlowKind.REQUEST, description="What kind of exchange the flow is.")
    signed: Fact = Field(
        None, description="The destination verifies a signature over each message or payload."
    )
    delivers: Annotated[list[ElementId], RefTo("assets")] = Field(
        default_factory=list,
        description="Ids of the assets the flow exists to hand to the destination, whose job "
        "is to process them (an e-mail address sent to the e-mail provider); "
        "sending them is the flow's purpose, not a leak.",
    )
    description: Markdown = ""
    out_of_scope: OutOfScope | None = _out_of_scope()
    tags: list[Tag] = _tags()
    attributes: dict[AttributeKey, AttributeValue] = _attributes()

    @model_validator(mode="after")
    def _delivers_what_it_carries(self) -> Flow:
        extra = [a for a in self.delivers if a not in self.data]
        if extra:
            raise ValueError(
                f"delivers {', '.join(repr(a) for a in extra)}, which the flow does not carry; "
                "add it to 'data' or remove it from 'delivers'"
            )
        return self


NEEDS_REASON = ("accepted", "transferred", "false_positive")
# Rules between fields, phrased once: the model validators raise them, and the
# integrity checks report them from the raw data when other fields fail too.
REASON_NEEDED = (
    "status '{status}' needs a 'reason' saying why "
    "(who accepted the risk, where it was transferred, or why it does not apply)"
)
DATE_OR_COMMIT_NEEDED = "a review marker needs a 'date', a 'commit' or both"


class Threat(_Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"status": {"enum": list(NEEDS_REASON)}}, "required": ["status"]},
            "then": {"required": ["reason"]},
        }
    )

    id: ElementId
    title: ShortText
    description: Markdown = ""
    categories: list[Stride] = Field(min_length=1, description="One or more STRIDE categories.")
    targets: Annotated[list[ElementId], RefTo("components", "flows", "assets")] = Field(
        min_length=1, description="Ids of the components, flows or assets under threat."
    )
    impact: Score = Field(description="How bad it is if it happens: 1 (minor) to 5 (severe).")
    likelihood: Score = Field(description="How likely it is to happen: 1 (rare) to 5 (expected).")
    status: ThreatStatus = ThreatStatus.OPEN
    reason: Text | None = Field(
        None, description="Why the threat is accepted, transferred or a false positive."
    )
    references: list[Reference] = Field(
        default_factory=list, description="CWE or CAPEC ids, or https:// links."
    )
    mitigations: Annotated[list[ElementId], RefTo("mitigations")] = Field(
        default_factory=list, description="Ids of the mitigations that address this threat."
    )
    from_suggestion: SuggestionKey | None = Field(
        None,
        description="Key of the suggested threat this one accepts ('rule-id@element-id').",
    )
    tags: list[Tag] = _tags()
    attributes: dict[AttributeKey, AttributeValue] = _attributes()

    @model_validator(mode="after")
    def _reason_when_not_handled(self) -> Threat:
        if self.status.value in NEEDS_REASON and not self.reason:
            raise ValueError(REASON_NEEDED.format(status=self.status.value))
        return self

    @property
    def risk(self) -> int:
        return self.impact * self.likelihood


class Mitigation(_Strict):
    id: ElementId
    title: ShortText
    description: Markdown = ""
    owner: ShortText = Field(description="The owning service or team that does the work.")
    status: MitigationStatus = MitigationStatus.PROPOSED
    sprint: ShortText | None = Field(None, description="Sprint or milestone it is planned for.")
    ticket: Ticket | None = Field(None, description="Tracker key or link.")
    threats: Annotated[list[ElementId], RefTo("threats")] = Field(
        default_factory=list, description="Ids of the threats it mitigates."
    )
    risk_reduction: Annotated[int, Strict(), Field(ge=0, le=100)] | None = Field(
        None,
        description="Estimated share of the risk it removes when done, 0-100 (as OTM's "
        "riskReduction); kept as data, not used in the residual risk.",
    )
    controls: Annotated[list[ControlText], AfterValidator(_distinct)] = Field(
        default_factory=list,
        max_length=MAX_CONTROLS,
        description="Controls of security frameworks it implements, as namespace:identifier "
        "or namespace:version:identifier, e.g. 'asvs:4.0.3:V5.3.4', 'nist-800-53:AC-3', "
        "'iso-27001:A.8.5', 'cwe:287'.",
        json_schema_extra={
            "uniqueItems": True,
            "items": {
                "type": "string",
                "maxLength": 140,
                "pattern": "^[a-z0-9][a-z0-9-]{0,39}:([A-Za-z0-9][A-Za-z0-9._-]{0,19}:)?"
                "[A-Za-z0-9][A-Za-z0-9._()/-]{0,63}$",
            },
        },
    )
    tags: list[Tag] = _tags()
    attributes: dict[AttributeKey, AttributeValue] = _attributes()


class NotApplicable(_Strict):
    """STRIDE categories considered for an element and found not to apply."""

    element: Annotated[ElementId, RefTo("components", "flows")] = Field(
        description="Id of the component or flow."
    )
    categories: list[Stride] = Field(min_length=1)
    reason: Text = Field(description="Why the categories do not apply to this element.")


class Dismissal(_Strict):
    """A suggested threat that was looked at and does not apply."""

    suggestion: SuggestionKey = Field(description="Key of the suggestion: 'rule-id@element-id'.")
    reason: Text = Field(description="Why it does not apply.")


class ThreatModel(_Strict):
    """One threat model: one system or subsystem, one file."""

    model_config = ConfigDict(
        title="tm-docs threat model",
        json_schema_extra={
            "description": "A threat model in the tm-docs format, version 1. "
            "See the user guide for an annotated example."
        },
    )

    format_version: Literal[1] = Field(
        description="Version of the tm-docs model format this file is written in."
    )
    id: ModelId = Field(description="Stable id of the model; used in URLs.")
    title: ShortText
    description: Markdown = ""
    owner: ShortText = Field(description="Team that owns the system and this model.")
    reviewers: list[ShortText] = Field(default_factory=list)
    review: Review | None = Field(
        None, description="Explicit marker of the last review against the architecture."
    )
    scope: Scope = Field(default_factory=Scope)
    watch: list[Glob] = Field(
        default_factory=list,
        description="Repository paths (globs) whose changes mean the model needs another look.",
    )
    # The caps keep one diagram something Graphviz lays out in seconds and a
    # person can read; a bigger system is several models.
    boundaries: list[Boundary] = Field(default_factory=list, max_length=MAX_ITEMS["boundaries"])
    components: list[Component] = Field(default_factory=list, max_length=MAX_ITEMS["components"])
    flows: list[Flow] = Field(default_factory=list, max_length=MAX_ITEMS["flows"])
    assets: list[Asset] = Field(default_factory=list, max_length=MAX_ITEMS["assets"])
    threats: list[Threat] = Field(default_factory=list, max_length=MAX_ITEMS["threats"])
    mitigations: list[Mitigation] = Field(default_factory=list, max_length=MAX_ITEMS["mitigations"])
    not_applicable: list[NotApplicable] = Field(
        default_factory=list,
        description="STRIDE categories considered and found not to apply, with the reason.",
    )
    dismissed: list[Dismissal] = Field(
        default_factory=list, description="Suggested threats that were looked at and dismissed."
    )
    tags: list[Tag] = _tags()
    attributes: dict[AttributeKey, AttributeValue] = _attributes()


# Lists of a model whose items refer to elements but carry no id of their own.
REFERRING: dict[str, tuple[str, type[BaseModel]]] = {
    "not_applicable": ("not-applicable entry", NotApplicable),
    "dismissed": ("dismissal", Dismissal),
}

# The collections of a model whose items carry ids, with the singular noun used
# in messages and pages.  Ids are unique across all of them within one model.
COLLECTIONS: dict[str, tuple[str, type[BaseModel]]] = {
    "boundaries": ("boundary", Boundary),
    "components": ("component", Component),
    "flows": ("flow", Flow),
    "assets": ("asset", Asset),
    "threats": ("threat", Threat),
    "mitigations": ("mitigation", Mitigation),
}
