"""The rule library, the condition operators, rule-file checks and triage of suggestions.

Every packaged rule has a hand-written case: a small model in which the rule fires for
one element, and a variant that changes one fact so that it stays silent for it.  The
cases are written from what each rule means, not from its `when` conditions.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tm_docs.analysis.conditions import compile_when
from tm_docs.analysis.facts import FLOW_FACTS
from tm_docs.analysis.rules import RuleSet
from tm_docs.analysis.suggest import Triage, stale_dismissals, suggestions
from tm_docs.load.models import load_file, load_models
from tm_docs.load.rules import load_rules
from tm_docs.model import (
    AssetKind,
    AuthMethod,
    Classification,
    ClientKind,
    ComponentKind,
    DeliveryRole,
    Deployment,
    FlowKind,
    InputFormat,
    ThreatModel,
    TokenCheck,
    TrustLevel,
)
from tm_docs.problems import Severity

WriteModel = Callable[..., Path]


@dataclass(frozen=True)
class Case:
    """A model where a rule fires for `element`, and one edit that silences it.

    `silent` is (old, new): the silent variant is the same model with the one
    occurrence of `old` replaced by `new`, so the two differ only in that fact.
    """

    fires: str
    silent: tuple[str, str]
    element: str

    def silent_body(self) -> str:
        old, new = self.silent
        assert self.fires.count(old) == 1, f"{old!r} must occur exactly once in the model"
        return self.fires.replace(old, new)


# --- flow rules -----------------------------------------------------------

FLOW_CASES: dict[str, Case] = {
    # From the DMZ into the internal zone without authentication; the other way is no
    # step up in trust.
    "unauthenticated-into-more-trusted": Case(
        """\
boundaries:
  - {id: dmz, title: DMZ, trust: dmz}
  - {id: vpc, title: VPC, trust: internal}
components:
  - {id: gateway, title: Gateway, kind: process, boundary: dmz}
  - {id: orders, title: Orders, kind: process, boundary: vpc}
flows:
  - id: f1
    source: gateway
    destination: orders
    authentication: {method: none}
""",
        ("source: gateway\n    destination: orders", "source: orders\n    destination: gateway"),
        "f1",
    ),
    # A customer calls the API and the model does not say how the customer is
    # authenticated (no boundaries needed: the customer is an external entity).
    "ingress-authentication-unrecorded": Case(
        """\
components:
  - {id: customer, title: Customer, kind: external_entity}
  - {id: api, title: API, kind: process}
flows:
  - {id: f1, source: customer, destination: api}
""",
        ("destination: api}", "destination: api, authentication: {method: session}}"),
        "f1",
    ),
    # Internal service into the payments zone, authentication not recorded; once
    # both sit in the same zone nothing is crossed.
    "crossing-authentication-unrecorded": Case(
        """\
boundaries:
  - {id: vpc, title: VPC, trust: internal}
  - {id: payments, title: Payments, trust: restricted, parent: vpc}
components:
  - {id: orders, title: Orders, kind: process, boundary: vpc}
  - {id: worker, title: Payment worker, kind: process, boundary: payments}
flows:
  - {id: f1, source: orders, destination: worker}
""",
        ("kind: process, boundary: payments", "kind: process, boundary: vpc"),
        "f1",
    ),
    # Cleartext from the VPC into the payments zone; cleartext inside one zone is
    # not this rule's concern.
    "cleartext-crossing": Case(
        """\
boundaries:
  - {id: vpc, title: VPC, trust: internal}
  - {id: payments, title: Payments, trust: restricted, parent: vpc}
components:
  - {id: orders, title: Orders, kind: process, boundary: vpc}
  - {id: worker, title: Payment worker, kind: process, boundary: payments}
flows:
  - id: f1
    source: orders
    destination: worker
    authentication: {method: mtls}
    encrypted: false
""",
        ("kind: process, boundary: payments", "kind: process, boundary: vpc"),
        "f1",
    ),
    # Confidential order data crosses into the payments zone and nobody recorded
    # whether the channel is encrypted; internal data is not sensitive enough.
    "encryption-unrecorded-for-sensitive-crossing": Case(
        """\
boundaries:
  - {id: vpc, title: VPC, trust: internal}
  - {id: payments, title: Payments, trust: restricted, parent: vpc}
components:
  - {id: orders, title: Orders, kind: process, boundary: vpc}
  - {id: worker, title: Payment worker, kind: process, boundary: payments}
flows:
  - id: f1
    source: orders
    destination: worker
    data: [order]
    authentication: {method: mtls}
assets:
  - {id: order, title: Order, kind: data_set, classification: confidential}
""",
        ("classification: confidential", "classification: internal"),
        "f1",
    ),
    # Card data sent unencrypted between two services of one network.
    "cleartext-restricted-data": Case(
        """\
components:
  - {id: orders, title: Orders, kind: process}
  - {id: billing, title: Billing, kind: process}
flows:
  - {id: f1, source: orders, destination: billing, data: [cards], encrypted: false}
assets:
  - {id: cards, title: Card numbers, kind: data_set, classification: restricted}
""",
        ("classification: restricted", "classification: confidential"),
        "f1",
    ),
    # A database password sent in cleartext; a plain data set in cleartext is not a
    # credential.
    "cleartext-credentials": Case(
        """\
components:
  - {id: config, title: Config service, kind: process}
  - {id: orders, title: Orders, kind: process}
flows:
  - {id: f1, source: config, destination: orders, data: [db-password], encrypted: false}
assets:
  - {id: db-password, title: Database password, kind: secret, classification: internal}
""",
        ("kind: secret", "kind: data_set"),
        "f1",
    ),
    # A customer presents a JWT whose audience the API does not check; with every
    # check made there is nothing to suggest.
    "token-checks-incomplete": Case(
        """\
components:
  - {id: customer, title: Customer, kind: external_entity}
  - {id: api, title: API, kind: process}
flows:
  - id: f1
    source: customer
    destination: api
    authentication: {method: jwt, checks: [signature, expiry, issuer]}
""",
        ("checks: [signature, expiry, issuer]", "checks: [signature, expiry, issuer, audience]"),
        "f1",
    ),
    # Provider webhooks with nothing recorded about a signature; a verified
    # signature silences it.
    "unsigned-webhook": Case(
        """\
components:
  - {id: psp, title: Payment provider, kind: external_entity}
  - {id: hooks, title: Webhook handler, kind: process}
flows:
  - id: f1
    source: psp
    destination: hooks
    kind: webhook
    authentication: {method: api_key}
    encrypted: true
""",
        ("kind: webhook", "kind: webhook\n    signed: true"),
        "f1",
    ),
    # Unsigned messages streamed from the DMZ into the internal zone; a request is
    # not a published message.
    "unsigned-event-from-less-trusted": Case(
        """\
boundaries:
  - {id: dmz, title: DMZ, trust: dmz}
  - {id: vpc, title: VPC, trust: internal}
components:
  - {id: collector, title: Click collector, kind: process, boundary: dmz}
  - {id: analytics, title: Analytics, kind: process, boundary: vpc}
flows:
  - id: f1
    source: collector
    destination: analytics
    kind: stream
    signed: false
    authentication: {method: mtls}
""",
        ("kind: stream", "kind: request"),
        "f1",
    ),
    # A service connects to its database without credentials.
    # People signed in by a session; a bearer token the page attaches is silent.
    "cross-site-request-forgery": Case(
        """\
components:
  - {id: customer, title: Customer, kind: external_entity}
  - {id: shop, title: Shop, kind: process}
flows:
  - {id: f1, source: customer, destination: shop,
     authentication: {method: session, client: human}}
""",
        ("method: session", "method: jwt"),
        "f1",
    ),
    # A service holding confidential data answers anyone; an authenticated caller is silent.
    "unauthenticated-call-to-sensitive-process": Case(
        """\
components:
  - {id: web, title: Web, kind: process}
  - {id: orders, title: Orders, kind: process, data: [orders-data]}
assets:
  - {id: orders-data, title: Orders, kind: data_set, classification: confidential}
flows:
  - {id: f1, source: web, destination: orders, authentication: {method: none}}
""",
        ("method: none", "method: mtls"),
        "f1",
    ),
    "unauthenticated-write-to-store": Case(
        """\
components:
  - {id: orders, title: Orders, kind: process}
  - {id: db, title: Orders DB, kind: data_store}
flows:
  - {id: f1, source: orders, destination: db, authentication: {method: none}}
""",
        ("method: none", "method: cloud_iam"),
        "f1",
    ),
    # Anyone may publish to the queue; the same unauthenticated write into a store
    # is the store rule's business, not this one's.
    "unauthenticated-publish-to-queue": Case(
        """\
components:
  - {id: orders, title: Orders, kind: process}
  - {id: jobs, title: Job queue, kind: queue}
flows:
  - {id: f1, source: orders, destination: jobs, authentication: {method: none}}
""",
        ("title: Job queue, kind: queue", "title: Job queue, kind: data_store"),
        "f1",
    ),
    # Customer data sent from the VPC to a partner; if the sender is itself in
    # the untrusted zone, nothing leaves the system.
    "sensitive-data-to-third-party": Case(
        """\
boundaries:
  - {id: internet, title: Internet, trust: untrusted}
  - {id: vpc, title: VPC, trust: internal}
components:
  - {id: crm-sync, title: CRM sync, kind: process, boundary: vpc}
  - {id: crm, title: Hosted CRM, kind: external_entity}
flows:
  - {id: f1, source: crm-sync, destination: crm, data: [customers], encrypted: true}
assets:
  - {id: customers, title: Customer records, kind: data_set, classification: confidential}
""",
        ("kind: process, boundary: vpc", "kind: process, boundary: internet"),
        "f1",
    ),
    # Our API key goes to the provider; the provider sending a key to us is not a
    # secret leaving the system.
    "secret-sent-to-third-party": Case(
        """\
components:
  - {id: worker, title: Payment worker, kind: process}
  - {id: psp, title: Payment provider, kind: external_entity}
flows:
  - id: f1
    source: worker
    destination: psp
    data: [psp-key]
    encrypted: true
assets:
  - {id: psp-key, title: Provider API key, kind: secret, classification: restricted}
""",
        ("source: worker\n    destination: psp", "source: psp\n    destination: worker"),
        "f1",
    ),
    # An API key is enough to step from the DMZ into the restricted zone; into an
    # internal zone it is not this rule's concern.
    "weak-auth-into-restricted": Case(
        """\
boundaries:
  - {id: dmz, title: DMZ, trust: dmz}
  - {id: core, title: Core, trust: restricted}
components:
  - {id: gateway, title: Gateway, kind: process, boundary: dmz}
  - {id: ledger, title: Ledger, kind: process, boundary: core}
flows:
  - {id: f1, source: gateway, destination: ledger, authentication: {method: api_key}}
""",
        ("title: Core, trust: restricted", "title: Core, trust: internal"),
        "f1",
    ),
    # A password with every request into the payments zone; inside one zone the
    # rule does not apply.
    "basic-auth-across-boundary": Case(
        """\
boundaries:
  - {id: vpc, title: VPC, trust: internal}
  - {id: payments, title: Payments, trust: restricted, parent: vpc}
components:
  - {id: orders, title: Orders, kind: process, boundary: vpc}
  - {id: worker, title: Payment worker, kind: process, boundary: payments}
flows:
  - {id: f1, source: orders, destination: worker, authentication: {method: basic}}
""",
        ("kind: process, boundary: payments", "kind: process, boundary: vpc"),
        "f1",
    ),
    # Partners call our API with a static key; us calling them with a key is no
    # entry point of ours.
    "static-api-key-at-ingress": Case(
        """\
components:
  - {id: partner, title: Partner, kind: external_entity}
  - {id: api, title: Partner API, kind: process}
flows:
  - id: f1
    source: partner
    destination: api
    authentication: {method: api_key}
""",
        ("source: partner\n    destination: api", "source: api\n    destination: partner"),
        "f1",
    ),
    # Staff (people) sign in to a console holding customer records without a second
    # factor; requiring one silences it.
    "human-without-second-factor": Case(
        """\
components:
  - {id: staff, title: Staff, kind: external_entity}
  - {id: console, title: Console, kind: process, data: [customers]}
flows:
  - id: f1
    source: staff
    destination: console
    authentication: {method: oidc, client: human, second_factor: false}
assets:
  - {id: customers, title: Customer records, kind: data_set, classification: confidential}
""",
        ("second_factor: false", "second_factor: true"),
        "f1",
    ),
    # The BFF calls the orders service as itself, the user's identity stays behind;
    # forwarding it silences the rule.
    "user-identity-not-propagated": Case(
        """\
components:
  - {id: bff, title: BFF, kind: process}
  - {id: orders, title: Orders, kind: process, data: [order-data]}
flows:
  - id: f1
    source: bff
    destination: orders
    authentication: {method: mtls, on_behalf_of_user: false}
assets:
  - {id: order-data, title: Orders, kind: data_set, classification: confidential}
""",
        ("on_behalf_of_user: false", "on_behalf_of_user: true"),
        "f1",
    ),
    # The registry hands images to the cluster, which runs them unverified; a cluster
    # that verifies signatures is silent.
    "unchecked-deployment": Case(
        """\
components:
  - {id: registry, title: Registry, kind: data_store, delivery_role: artifact_registry}
  - {id: cluster, title: Cluster, kind: process, delivery_role: deploy_target}
flows:
  - {id: f1, source: registry, destination: cluster}
""",
        ("destination: cluster}", "destination: cluster, signed: true}"),
        "f1",
    ),
    # The build server pushes to production; a target that pulls is silent.
    "push-deployment": Case(
        """\
components:
  - {id: ci, title: CI, kind: process, delivery_role: build_server}
  - {id: prod, title: Production, kind: process, delivery_role: deploy_target,
     deployment: push}
flows:
  - {id: f1, source: ci, destination: prod, signed: true}
""",
        ("deployment: push", "deployment: pull"),
        "f1",
    ),
}

# --- component rules ------------------------------------------------------

COMPONENT_CASES: dict[str, Case] = {
    # A queue holding confidential messages, recorded as not encrypted at rest; a
    # store whose encryption is simply not recorded is another rule's business.
    "confidential-store-unencrypted": Case(
        """\
components:
  - {id: orders, title: Orders, kind: process}
  - {id: outbox, title: Outbox, kind: queue, encrypted_at_rest: false}
flows:
  - {id: f1, source: orders, destination: outbox, data: [order]}
assets:
  - {id: order, title: Order, kind: data_set, classification: confidential, location: [outbox]}
""",
        (", encrypted_at_rest: false", ""),
        "outbox",
    ),
    "restricted-store-encryption-unrecorded": Case(
        """\
components:
  - {id: billing, title: Billing, kind: process}
  - {id: vault, title: Card vault, kind: data_store}
flows:
  - {id: f1, source: billing, destination: vault, data: [cards]}
assets:
  - {id: cards, title: Card numbers, kind: data_set, classification: restricted, location: [vault]}
""",
        ("classification: restricted", "classification: confidential"),
        "vault",
    ),
    "secrets-stored-unencrypted": Case(
        """\
components:
  - {id: app, title: App, kind: process}
  - {id: config-db, title: Config DB, kind: data_store, encrypted_at_rest: false}
flows:
  - {id: f1, source: app, destination: config-db}
assets:
  - {id: smtp-password, title: SMTP password, kind: secret, classification: confidential,
     location: [config-db]}
""",
        ("encrypted_at_rest: false", "encrypted_at_rest: true"),
        "config-db",
    ),
    # Staff reach the admin console straight from outside; from an internal tool
    # it is not reachable from outside.
    "admin-interface-reachable-from-outside": Case(
        """\
components:
  - {id: staff, title: Support staff, kind: external_entity}
  - {id: console, title: Admin console, kind: process, data: [admin-ui], audit_log: true}
flows:
  - {id: f1, source: staff, destination: console}
assets:
  - {id: admin-ui, title: Admin UI, kind: admin_interface, classification: internal}
""",
        ("title: Support staff, kind: external_entity", "title: Support staff, kind: process"),
        "console",
    ),
    # Nothing is recorded about an audit trail of the admin console.
    "admin-actions-without-audit-trail": Case(
        """\
components:
  - {id: ops, title: Operator tool, kind: process}
  - {id: console, title: Admin console, kind: process, data: [admin-ui]}
flows:
  - {id: f1, source: ops, destination: console}
assets:
  - {id: admin-ui, title: Admin UI, kind: admin_interface, classification: internal}
""",
        ("data: [admin-ui]}", "data: [admin-ui], audit_log: true}"),
        "console",
    ),
    # The payments API is recorded as keeping no audit trail; when the model does
    # not say, this rule does not claim it.
    "critical-api-without-audit-trail": Case(
        """\
components:
  - {id: shop, title: Shop, kind: process}
  - {id: payments, title: Payments API, kind: process, data: [pay-api], audit_log: false}
flows:
  - {id: f1, source: shop, destination: payments}
assets:
  - {id: pay-api, title: Payment API, kind: critical_api, classification: confidential}
""",
        (", audit_log: false", ""),
        "payments",
    ),
    "restricted-data-handled-without-audit": Case(
        """\
components:
  - {id: clinic, title: Clinic app, kind: process}
  - {id: records, title: Records service, kind: process, data: [health], audit_log: false}
flows:
  - {id: f1, source: clinic, destination: records, data: [health]}
assets:
  - {id: health, title: Health records, kind: data_set, classification: restricted}
""",
        ("classification: restricted", "classification: confidential"),
        "records",
    ),
    # The partner's actions are recorded as not audited.
    "external-actions-unattributable": Case(
        """\
components:
  - {id: partner, title: Reseller, kind: external_entity, audit_log: false}
  - {id: api, title: Orders API, kind: process}
flows:
  - {id: f1, source: partner, destination: api, authentication: {method: mtls}}
""",
        ("audit_log: false", "audit_log: true"),
        "partner",
    ),
    "secrets-in-logs": Case(
        """\
components:
  - {id: customer, title: Customer, kind: external_entity}
  - {id: api, title: API, kind: process, logs_sensitive_data: true}
flows:
  - {id: f1, source: customer, destination: api}
""",
        ("logs_sensitive_data: true", "logs_sensitive_data: false"),
        "api",
    ),
    # A process holding an API key; nobody has checked what it logs.
    "log-content-unrecorded-for-sensitive-process": Case(
        """\
components:
  - {id: shop, title: Shop, kind: process}
  - {id: profiles, title: Profiles, kind: process, data: [key]}
flows:
  - {id: f1, source: shop, destination: profiles}
assets:
  - {id: key, title: CRM API key, kind: secret, classification: confidential}
""",
        ("data: [key]}", "data: [key], logs_sensitive_data: false}"),
        "profiles",
    ),
    # A privileged Kubernetes CronJob; a privileged long-running deployment is not a job.
    "privileged-background-job": Case(
        """\
components:
  - {id: cleanup, title: Cleanup, kind: process, technology: kubernetes cronjob,
     privileged: true}
  - {id: db, title: DB, kind: data_store}
flows:
  - {id: f1, source: cleanup, destination: db}
""",
        ("technology: kubernetes cronjob", "technology: kubernetes deployment"),
        "cleanup",
    ),
    "privileged-process-reachable-from-outside": Case(
        """\
components:
  - {id: customer, title: Customer, kind: external_entity}
  - {id: upload, title: Upload service, kind: process, privileged: true, rate_limited: true}
flows:
  - {id: f1, source: customer, destination: upload}
""",
        ("privileged: true", "privileged: false"),
        "upload",
    ),
    # A privileged agent in the DMZ (dmz is the highest "low-trust" level); in the
    # internal zone it is not exposed.
    "privileged-in-low-trust-zone": Case(
        """\
boundaries:
  - {id: dmz, title: DMZ, trust: dmz}
  - {id: vpc, title: VPC, trust: internal}
components:
  - {id: agent, title: Deploy agent, kind: process, boundary: dmz, privileged: true}
  - {id: api, title: API, kind: process, boundary: vpc}
flows:
  - {id: f1, source: agent, destination: api, authentication: {method: mtls}}
""",
        ("boundary: dmz, privileged", "boundary: vpc, privileged"),
        "agent",
    ),
    "unbounded-queue-consumer": Case(
        """\
components:
  - {id: orders, title: Orders, kind: process}
  - {id: jobs, title: Job queue, kind: queue}
  - {id: worker, title: Worker, kind: process}
flows:
  - {id: f1, source: orders, destination: jobs, kind: event}
  - {id: f2, source: jobs, destination: worker, kind: event}
""",
        (
            "{id: worker, title: Worker, kind: process}",
            "{id: worker, title: Worker, kind: process, bounded_consumption: true}",
        ),
        "worker",
    ),
    "ingress-target-without-rate-limit": Case(
        """\
components:
  - {id: customer, title: Customer, kind: external_entity}
  - {id: api, title: API, kind: process, rate_limited: false}
flows:
  - {id: f1, source: customer, destination: api}
""",
        ("rate_limited: false", "rate_limited: true"),
        "api",
    ),
    # Customers send passwords to the login service, with no limit on attempts;
    # a profile update carries no credential to guess.
    "credential-guessing-at-entry-point": Case(
        """\
components:
  - {id: customer, title: Customer, kind: external_entity}
  - {id: login, title: Login, kind: process}
flows:
  - {id: f1, source: customer, destination: login, data: [sent], encrypted: true}
assets:
  - {id: sent, title: What the customer sends, kind: secret, classification: confidential}
""",
        ("kind: secret", "kind: data_set"),
        "login",
    ),
    # A partner writes to the bucket directly; through the import API it does not.
    "store-reachable-from-outside": Case(
        """\
components:
  - {id: partner, title: Partner, kind: external_entity}
  - {id: import, title: Import API, kind: process}
  - {id: bucket, title: Upload bucket, kind: data_store}
flows:
  - {id: f1, source: partner, destination: import}
  - {id: f2, source: partner, destination: bucket}
""",
        ("{id: f2, source: partner,", "{id: f2, source: import,"),
        "bucket",
    ),
    # A device in an untrusted zone publishes to the queue; a process in a partner
    # zone is not an external party.
    "queue-reachable-from-outside": Case(
        """\
boundaries:
  - {id: field, title: Field devices, trust: untrusted}
  - {id: vpc, title: VPC, trust: internal}
components:
  - {id: sensor, title: Sensor gateway, kind: process, boundary: field}
  - {id: telemetry, title: Telemetry queue, kind: queue, boundary: vpc}
flows:
  - {id: f1, source: sensor, destination: telemetry, kind: event}
""",
        ("trust: untrusted", "trust: partner"),
        "telemetry",
    ),
    # Three services read the same vault; two is not "many" (more than two).
    "secret-holder-with-many-clients": Case(
        """\
components:
  - {id: vault, title: Vault, kind: data_store, data: [keys], encrypted_at_rest: true}
  - {id: a, title: Service A, kind: process}
  - {id: b, title: Service B, kind: process}
  - {id: c, title: Service C, kind: process}
flows:
  - {id: f1, source: a, destination: vault}
  - {id: f2, source: b, destination: vault}
  - {id: f3, source: c, destination: vault}
assets:
  - {id: keys, title: API keys, kind: secret, classification: restricted}
""",
        ("  - {id: f3, source: c, destination: vault}\n", ""),
        "vault",
    ),
    # The public gateway in the DMZ handles card numbers; confidential data there is
    # not this rule's concern.
    "restricted-data-in-exposed-zone": Case(
        """\
boundaries:
  - {id: dmz, title: DMZ, trust: dmz}
  - {id: vpc, title: VPC, trust: internal}
components:
  - {id: gateway, title: Gateway, kind: process, boundary: dmz, data: [cards]}
  - {id: billing, title: Billing, kind: process, boundary: vpc}
flows:
  - {id: f1, source: gateway, destination: billing, data: [cards]}
assets:
  - {id: cards, title: Card numbers, kind: data_set, classification: restricted}
""",
        ("classification: restricted", "classification: confidential"),
        "gateway",
    ),
    # A service queries PostgreSQL and nobody recorded parameterised queries; a
    # recorded safe query builder silences it.
    "sql-injection": Case(
        """\
components:
  - {id: orders, title: Orders, kind: process}
  - {id: db, title: Orders DB, kind: data_store, technology: postgresql}
flows:
  - {id: f1, source: orders, destination: db}
""",
        ("kind: process}", "kind: process, escapes_input: true}"),
        "orders",
    ),
    # A login service searches the directory; calling a database instead is not LDAP.
    "ldap-injection": Case(
        """\
components:
  - {id: login, title: Login, kind: process}
  - {id: dir, title: Directory, kind: data_store, technology: openldap}
flows:
  - {id: f1, source: login, destination: dir}
""",
        ("technology: openldap", "technology: redis"),
        "login",
    ),
    # Reports written to a shared file system; safe path handling silences it.
    "path-traversal": Case(
        """\
components:
  - {id: reports, title: Reports, kind: process, escapes_input: false}
  - {id: share, title: Share, kind: data_store, technology: nfs file share}
flows:
  - {id: f1, source: reports, destination: share}
""",
        ("escapes_input: false", "escapes_input: true"),
        "reports",
    ),
    "unsafe-deserialisation": Case(
        """\
components:
  - {id: api, title: API, kind: process, accepts: [serialized_objects]}
""",
        ("accepts: [serialized_objects]", "accepts: [json]"),
        "api",
    ),
    "xml-external-entities": Case(
        """\
components:
  - {id: api, title: SOAP API, kind: process, accepts: [xml, json]}
""",
        ("accepts: [xml, json]", "accepts: [json]"),
        "api",
    ),
    "unvalidated-file-upload": Case(
        """\
components:
  - {id: api, title: Uploads, kind: process, accepts: [files]}
""",
        ("accepts: [files]", "accepts: [form]"),
        "api",
    ),
    "server-side-request-forgery": Case(
        """\
components:
  - {id: preview, title: Link preview, kind: process, fetches_input_urls: true}
""",
        ("fetches_input_urls: true", "fetches_input_urls: false"),
        "preview",
    ),
    # The worker keeps its own API key; once it comes from a vault there is nothing to say.
    "secrets-outside-vault": Case(
        """\
components:
  - {id: worker, title: Worker, kind: process}
assets:
  - {id: key, title: API key, kind: secret, classification: restricted, location: [worker]}
""",
        ("kind: process}", "kind: process, secrets_in_vault: true}"),
        "worker",
    ),
    "unhardened-high-value-component": Case(
        """\
components:
  - {id: ledger, title: Ledger, kind: process, data: [money], hardened: false}
assets:
  - {id: money, title: Balances, kind: data_set, classification: restricted}
""",
        ("hardened: false", "hardened: true"),
        "ledger",
    ),
    # A build server is a way into every release; a deploy target is not this rule's.
    "build-system-backdooring": Case(
        """\
components:
  - {id: ci, title: CI, kind: process, delivery_role: build_server}
""",
        ("delivery_role: build_server", "delivery_role: deploy_target"),
        "ci",
    ),
    # The model says dependencies float, whatever the technology; pinned is silent.
    "unpinned-base-images": Case(
        """\
components:
  - {id: worker, title: Worker, kind: process, technology: go, pinned_dependencies: false}
""",
        ("pinned_dependencies: false", "pinned_dependencies: true"),
        "worker",
    ),
    # A container image whose pinning the model does not record; recorded is silent.
    "image-pinning-unrecorded": Case(
        """\
components:
  - {id: api, title: API, kind: process, technology: docker container}
""",
        (
            "technology: docker container}",
            "technology: docker container, pinned_dependencies: true}",
        ),
        "api",
    ),
    # People use the shop's pages and escaping is not recorded; recorded escaping is silent.
    "cross-site-scripting": Case(
        """\
components:
  - {id: customer, title: Customer, kind: external_entity}
  - {id: shop, title: Shop, kind: process, technology: node.js}
flows:
  - {id: f1, source: customer, destination: shop,
     authentication: {method: session, client: human}}
""",
        ("technology: node.js}", "technology: node.js, escapes_input: true}"),
        "shop",
    ),
    # Contributors reach the source repository from the internet.
    "delivery-system-reachable-from-outside": Case(
        """\
components:
  - {id: dev, title: Developer, kind: external_entity}
  - {id: git, title: Git server, kind: data_store, delivery_role: source_repository}
flows:
  - {id: f1, source: dev, destination: git}
""",
        ("delivery_role: source_repository", "delivery_role: deploy_target"),
        "git",
    ),
    "secrets-leak-from-repository": Case(
        """\
components:
  - {id: git, title: Git server, kind: data_store, delivery_role: source_repository}
""",
        (
            "delivery_role: source_repository}",
            "delivery_role: source_repository, secrets_in_vault: true}",
        ),
        "git",
    ),
}

CASES: dict[str, Case] = {**FLOW_CASES, **COMPONENT_CASES}

# Rules whose case fails because of a bug in the rule or in the facts: rule id -> reason.
KNOWN_BUGS: dict[str, str] = {}


@pytest.fixture(scope="module")
def library() -> RuleSet:
    rules = load_rules()
    assert rules.problems == ()
    return rules


def _model(write_model: WriteModel, body: str, **kwargs: Any) -> ThreatModel:
    model, problems = load_file(write_model(body, **kwargs))
    assert problems == []
    assert model is not None
    return model


def _keys(model: ThreatModel, rules: RuleSet) -> set[str]:
    """Keys of the rules that fire, also those folded into another rule's suggestion."""
    found = suggestions(model, rules.rules)
    return {s.key for s in found} | {f"{r}@{s.subject.id}" for s in found for r in s.folded}


def test_one_suggestion_per_element_and_weakness(library: RuleSet, write_model: WriteModel) -> None:
    """A source repository reachable from outside is one finding, not two (CWE-284)."""
    case = CASES["delivery-system-reachable-from-outside"]
    found = [s for s in suggestions(_model(write_model, case.fires), library.rules)]
    on_git = {s.rule.id: s for s in found if s.subject.id == "git"}
    assert "store-reachable-from-outside" in on_git
    assert "delivery-system-reachable-from-outside" not in on_git
    assert on_git["store-reachable-from-outside"].folded == (
        "delivery-system-reachable-from-outside",
    )


def test_every_rule_of_the_library_has_a_case(library: RuleSet) -> None:
    assert len(library.rules) >= 40
    assert not set(FLOW_CASES) & set(COMPONENT_CASES)
    assert set(CASES) == set(library.by_id())
    for rule in library.rules:
        cases = FLOW_CASES if rule.applies_to == "flow" else COMPONENT_CASES
        assert rule.id in cases, f"the case of '{rule.id}' is filed under the wrong kind"


def _case_params() -> list[Any]:
    return [
        pytest.param(
            rule_id,
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[rule_id])]
            if rule_id in KNOWN_BUGS
            else [],
            id=rule_id,
        )
        for rule_id in sorted(CASES)
    ]


@pytest.mark.parametrize("rule_id", _case_params())
def test_rule_fires_and_stays_silent_when_one_fact_changes(
    rule_id: str, library: RuleSet, write_model: WriteModel
) -> None:
    case = CASES[rule_id]
    key = f"{rule_id}@{case.element}"
    fires = _model(write_model, case.fires, name="fires.yaml", model_id="fires")
    silent = _model(write_model, case.silent_body(), name="silent.yaml", model_id="silent")
    assert key in _keys(fires, library)
    assert key not in _keys(silent, library)


# Our worker calls the payment provider with our own API key and reads the answer on the
# same connection (bidirectional, so the flow counts as an ingress point).  Nobody calls
# the worker with a credential, and the key is ours, presented to them.
OUTBOUND_CALL = """\
components:
  - {id: worker, title: Payment worker, kind: process}
  - {id: psp, title: Payment provider, kind: external_entity}
flows:
  - id: f1
    source: worker
    destination: psp
    data: [psp-key]
    authentication: {method: api_key}
    encrypted: true
    bidirectional: true
assets:
  - {id: psp-key, title: Our key at the provider, kind: secret, classification: restricted}
"""


def test_a_token_that_is_obtained_not_presented_is_not_checked_for(
    library: RuleSet, write_model: WriteModel
) -> None:
    """An authorisation-code exchange obtains tokens; nobody presents one to the provider."""
    body = CASES["token-checks-incomplete"].fires.replace(
        "checks: [signature, expiry, issuer]", "presents_token: false"
    )
    assert "token-checks-incomplete@f1" not in _keys(_model(write_model, body), library)


def test_the_token_suggestion_lists_what_is_unchecked_or_asks_for_the_checks(
    library: RuleSet, write_model: WriteModel
) -> None:
    case = CASES["token-checks-incomplete"]
    (found,) = [
        s
        for s in suggestions(_model(write_model, case.fires), library.rules)
        if s.rule.id.startswith("token")
    ]
    assert found.listed == ["audience"]
    assert found.unrecorded == ["presents_token"]
    body = case.fires.replace(", checks: [signature, expiry, issuer]", "")
    (asked,) = [
        s
        for s in suggestions(_model(write_model, body), library.rules)
        if s.rule.id.startswith("token")
    ]
    assert asked.listed == []
    assert asked.unrecorded == ["checks_complete", "presents_token"]


def test_signed_messages_and_webhooks_are_not_unauthenticated_traffic(
    library: RuleSet, write_model: WriteModel
) -> None:
    case = CASES["unauthenticated-into-more-trusted"]
    assert "unauthenticated-into-more-trusted@f1" in _keys(_model(write_model, case.fires), library)
    signed = case.fires.replace(
        "authentication: {method: none}", "authentication: {method: none}\n    signed: true"
    )
    assert "unauthenticated-into-more-trusted@f1" not in _keys(_model(write_model, signed), library)
    webhook = case.fires.replace(
        "authentication: {method: none}", "authentication: {method: none}\n    kind: webhook"
    )
    keys = _keys(_model(write_model, webhook), library)
    assert "unauthenticated-into-more-trusted@f1" not in keys
    assert "unsigned-webhook@f1" in keys


def test_load_balancers_and_gateways_do_not_render_pages(
    library: RuleSet, write_model: WriteModel
) -> None:
    case = CASES["cross-site-scripting"]
    proxy = case.fires.replace("technology: node.js}", "technology: nginx reverse proxy}")
    assert "cross-site-scripting@shop" not in _keys(_model(write_model, proxy), library)
    named = case.fires.replace("client: human", "client: service").replace(
        "technology: node.js}", "technology: apache web server}"
    )
    assert "cross-site-scripting@shop" in _keys(_model(write_model, named), library)


def test_a_person_with_a_second_factor_is_not_weak_auth_into_restricted(
    library: RuleSet, write_model: WriteModel
) -> None:
    case = CASES["weak-auth-into-restricted"]
    human = case.fires.replace(
        "authentication: {method: api_key}",
        "authentication: {method: oidc, client: human, second_factor: true}",
    )
    assert "weak-auth-into-restricted@f1" in _keys(_model(write_model, case.fires), library)
    assert "weak-auth-into-restricted@f1" not in _keys(_model(write_model, human), library)


def test_data_a_flow_exists_to_deliver_is_no_leak(
    library: RuleSet, write_model: WriteModel
) -> None:
    body = CASES["sensitive-data-to-third-party"].fires.replace(
        "data: [customers],", "data: [customers], delivers: [customers],"
    )
    assert "sensitive-data-to-third-party@f1" not in _keys(_model(write_model, body), library)


def test_a_flow_delivers_only_what_it_carries(write_model: WriteModel) -> None:
    body = CASES["sensitive-data-to-third-party"].fires.replace(
        "data: [customers],", "delivers: [customers],"
    )
    model, problems = load_file(write_model(body))
    assert model is None
    assert any(
        "delivers 'customers', which the flow does not carry" in p.message for p in problems
    ), [str(p) for p in problems]


def test_a_threat_the_model_has_for_the_weakness_covers_the_suggestion(
    library: RuleSet, write_model: WriteModel
) -> None:
    threat = """\
threats:
  - {id: T1, title: Forged tokens, categories: [spoofing], targets: [f1], impact: 4,
     likelihood: 3, references: [CWE-287]}
"""
    body = CASES["token-checks-incomplete"].fires + threat
    (found,) = [
        s
        for s in suggestions(_model(write_model, body), library.rules)
        if s.key == "token-checks-incomplete@f1"
    ]
    assert found.triage is Triage.ACCEPTED
    assert found.threat is not None and found.threat.id == "T1"
    # A threat on another element or of another weakness covers nothing.
    other = body.replace("references: [CWE-287]", "references: [CWE-400]")
    (still,) = [
        s
        for s in suggestions(_model(write_model, other), library.rules)
        if s.key == "token-checks-incomplete@f1"
    ]
    assert still.triage is Triage.UNTRIAGED


def test_severity_follows_the_classification_of_the_data(
    library: RuleSet, write_model: WriteModel
) -> None:
    body = CASES["xml-external-entities"].fires
    restricted = body.replace(
        "accepts: [xml, json]}",
        "accepts: [xml, json], data: [k]}\n"
        "assets:\n  - {id: k, title: K, kind: data_set, classification: restricted}",
    )
    internal = restricted.replace("classification: restricted", "classification: internal")

    def risk(text: str) -> int:
        found = suggestions(_model(write_model, text), library.rules)
        (mine,) = [s for s in found if s.rule.id == "xml-external-entities"]
        return mine.risk

    rule = library.by_id()["xml-external-entities"]
    assert risk(body) == rule.risk
    assert risk(restricted) > rule.risk > risk(internal)


def test_calling_out_with_our_key_is_no_credential_guessing(
    library: RuleSet, write_model: WriteModel
) -> None:
    keys = _keys(_model(write_model, OUTBOUND_CALL), library)
    assert "credential-guessing-at-entry-point@worker" not in keys


def test_calling_out_with_our_key_is_no_static_key_at_ingress(
    library: RuleSet, write_model: WriteModel
) -> None:
    keys = _keys(_model(write_model, OUTBOUND_CALL), library)
    assert "static-api-key-at-ingress@f1" not in keys


# --- the library's values -------------------------------------------------

_BOOL = {True, False}
_KNOWN = {True, False, "unknown"}


def _values(enum: Any, *extra: Any) -> set[Any]:
    return {member.value for member in enum} | set(extra)


# What each fact can be compared with, from the model format.
FACT_VALUES: dict[str, dict[str, set[Any] | None]] = {
    "flow": {
        "crosses_boundary": _BOOL,
        "ingress": _BOOL,
        "into_more_trusted": _BOOL,
        "from_external": _BOOL,
        "to_external": _BOOL,
        "authentication": _values(AuthMethod, "unknown"),
        "token": _BOOL,
        "checks": _values(TokenCheck),
        "encrypted": _KNOWN,
        "signed": _KNOWN,
        "kind": _values(FlowKind),
        "classification": _values(Classification, "unknown"),
        "carries": _values(AssetKind),
        "source_kind": _values(ComponentKind),
        "destination_kind": _values(ComponentKind),
        "destination_trust": _values(TrustLevel, "unknown"),
        "bidirectional": _BOOL,
        "presents_token": _KNOWN,
        "checks_complete": _KNOWN,
        "unchecked": {"signature", "expiry", "audience", "issuer"},
        "client": _values(ClientKind, "unknown"),
        "second_factor": _KNOWN,
        "on_behalf_of_user": _KNOWN,
        "beyond_purpose_classification": _values(Classification, "unknown"),
        "destination_classification": _values(Classification, "unknown"),
        "destination_technology": None,  # free text
        "source_delivery_role": _values(DeliveryRole, "unknown"),
        "destination_delivery_role": _values(DeliveryRole, "unknown"),
        "destination_deployment": _values(Deployment, "unknown"),
    },
    "component": {
        "kind": _values(ComponentKind),
        "trust": _values(TrustLevel, "unknown"),
        "external": _BOOL,
        "reachable_from_external": _BOOL,
        "receives_credentials_from_external": _BOOL,
        "consumes_queue": _BOOL,
        "inbound_flows": None,  # a number
        "callers": None,  # a number
        "classification": _values(Classification, "unknown"),
        "assets": _values(AssetKind),
        "technology": None,  # free text
        "background_job": _BOOL,
        "encrypted_at_rest": _KNOWN,
        "audit_log": _KNOWN,
        "logs_sensitive_data": _KNOWN,
        "privileged": _KNOWN,
        "rate_limited": _KNOWN,
        "bounded_consumption": _KNOWN,
        "keeps": _values(AssetKind),
        "own_secrets": _BOOL,
        "serves_browsers": _BOOL,
        "accepts": _values(InputFormat),
        "escapes_input": _KNOWN,
        "fetches_input_urls": _KNOWN,
        "secrets_in_vault": _KNOWN,
        "hardened": _KNOWN,
        "delivery_role": _values(DeliveryRole, "unknown"),
        "deployment": _values(Deployment, "unknown"),
        "pinned_dependencies": _KNOWN,
        "calls": None,  # free text
    },
}


def _literals(condition: Any) -> list[Any]:
    """The values a condition compares a fact with (not regexes or numbers)."""
    if isinstance(condition, list):
        return [v for option in condition for v in _literals(option)]
    if isinstance(condition, dict):
        ((operator, value),) = condition.items()
        if operator in ("matches", "more_than"):
            return []
        return _literals(value)
    return [condition]


def test_every_value_in_the_library_is_one_its_fact_can_take(library: RuleSet) -> None:
    """A misspelt value (say `cloud-iam`) would make a condition silently never hold."""
    wrong = []
    for rule in library.rules:
        for fact, condition in rule.when.items():
            allowed = FACT_VALUES[rule.applies_to][fact]
            if allowed is None:
                continue
            wrong += [(rule.id, fact, v) for v in _literals(condition) if v not in allowed]
    assert wrong == []


# --- condition operators --------------------------------------------------


@pytest.mark.parametrize(
    ("expected", "actual", "fact", "result"),
    [
        # A value: equality.
        ("webhook", "webhook", "kind", True),
        ("webhook", "event", "kind", False),
        (True, True, "encrypted", True),
        (True, False, "encrypted", False),
        (False, False, "encrypted", True),
        (False, None, "encrypted", False),
        ("restricted", "restricted", "classification", True),
        ("restricted", "confidential", "classification", False),
        # A list: any of its values.
        (["event", "stream"], "stream", "kind", True),
        (["event", "stream"], "request", "kind", False),
        (["mtls", "unknown"], None, "authentication", True),
        # unknown: the model leaves the fact out.
        ("unknown", None, "encrypted", True),
        ("unknown", False, "encrypted", False),
        ("unknown", "none", "authentication", False),
        # not
        ({"not": True}, None, "signed", True),
        ({"not": True}, False, "signed", True),
        ({"not": True}, True, "signed", False),
        ({"not": ["mtls", "signature"]}, "jwt", "authentication", True),
        ({"not": ["mtls", "signature"]}, None, "authentication", True),
        ({"not": ["mtls", "signature"]}, "signature", "authentication", False),
        ({"not": "unknown"}, None, "authentication", False),
        ({"not": "unknown"}, "none", "authentication", True),
        ({"not": {"at_least": "confidential"}}, "internal", "classification", True),
        ({"not": {"at_least": "confidential"}}, "restricted", "classification", False),
        # at_least / at_most on classification and trust levels.
        ({"at_least": "confidential"}, "internal", "classification", False),
        ({"at_least": "confidential"}, "confidential", "classification", True),
        ({"at_least": "confidential"}, "restricted", "classification", True),
        ({"at_least": "confidential"}, None, "classification", False),
        ({"at_most": "internal"}, "public", "classification", True),
        ({"at_most": "internal"}, "confidential", "classification", False),
        ({"at_most": "dmz"}, "untrusted", "trust", True),
        ({"at_most": "dmz"}, "dmz", "trust", True),
        ({"at_most": "dmz"}, "internal", "trust", False),
        ({"at_most": "dmz"}, None, "trust", False),
        ({"at_least": "internal"}, "restricted", "destination_trust", True),
        ({"at_least": "internal"}, "partner", "destination_trust", False),
        ({"at_least": "internal"}, None, "destination_trust", False),
        # contains / lacks on sets.
        ({"contains": "secret"}, {"secret", "data_set"}, "carries", True),
        ({"contains": "secret"}, {"data_set"}, "carries", False),
        ({"contains": "secret"}, set(), "carries", False),
        ({"lacks": "audience"}, {"signature", "expiry"}, "checks", True),
        ({"lacks": "audience"}, set(), "checks", True),
        ({"lacks": "audience"}, {"audience"}, "checks", False),
        # matches: the text contains one of the '|'-separated words, ignoring case.
        ({"matches": "postgres"}, "postgresql 15", "technology", True),
        ({"matches": "POSTGRES"}, "PostgreSQL", "technology", True),
        ({"matches": "postgres"}, "mysql", "technology", False),
        ({"matches": "(a+)+$"}, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", "technology", False),
        ({"matches": "redis|memcached"}, "memcached", "technology", True),
        ({"matches": "."}, "", "technology", False),
        ({"matches": "."}, None, "technology", False),
        # more_than on numbers.
        ({"more_than": 2}, 3, "inbound_flows", True),
        ({"more_than": 2}, 2, "inbound_flows", False),
        ({"more_than": 0}, 0, "inbound_flows", False),
        ({"more_than": 2}, None, "inbound_flows", False),
    ],
)
def test_condition_operators(expected: Any, actual: Any, fact: str, result: bool) -> None:
    applies_to = "flow" if fact in FLOW_FACTS else "component"
    conditions, problems = compile_when(applies_to, {fact: expected})
    assert problems == []
    assert conditions[fact].holds(actual) is result


# --- rule files -----------------------------------------------------------

CUSTOM_RULES = """\
rules:
  - id: payments-without-idempotency
    title: Payment requests can be replayed
    applies_to: flow
    when:
      destination_kind: process
      classification: {at_least: confidential}
      kind: [request, webhook]
    categories: [tampering]
    cwe: [294]
    capec: [60]
    impact: 4
    likelihood: 3
    explanation: A replayed payment request charges the customer twice.
    mitigation: Require an idempotency key on every payment request.

  - id: cache-of-sensitive-data
    title: Sensitive data kept in a cache
    applies_to: component
    when:
      technology: {matches: 'redis|memcached'}
      classification: {at_least: confidential}
    categories: [information_disclosure]
    impact: 3
    likelihood: 2
    explanation: Caches are rarely encrypted or access-controlled like the database.
    mitigation: Cache references, not the data, or encrypt and authenticate the cache.
"""

BAD_FACTS = """\
rules:
  - id: typo-in-fact
    title: A fact name with a typo
    applies_to: flow
    when: {crosses_bounday: true, encrypted: false}
    categories: [tampering]
    impact: 3
    likelihood: 3
    explanation: x
    mitigation: y

  - id: bad-level
    title: A classification level that does not exist
    applies_to: component
    when:
      kind: data_store
      classification: {at_least: secret}
    categories: [information_disclosure]
    impact: 3
    likelihood: 3
    explanation: x
    mitigation: y
"""

BAD_KEY = """\
rules:
  - id: extra-key
    title: A rule with a key the format does not have
    applies_to: component
    when: {privileged: true}
    categories: [elevation_of_privilege]
    severity: high
    impact: 3
    likelihood: 3
    explanation: x
    mitigation: y
"""

DUPLICATE = """\
# Same id as a packaged rule.
rules:
  - id: cleartext-crossing
    title: Our own take on cleartext crossings
    applies_to: flow
    when: {crosses_boundary: true, encrypted: false}
    categories: [information_disclosure]
    impact: 3
    likelihood: 3
    explanation: x
    mitigation: y
"""


def _rules_folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def test_rule_file_mistakes_are_reported_with_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    folder = _rules_folder(
        tmp_path, {"a-facts.yaml": BAD_FACTS, "b-key.yaml": BAD_KEY, "c-dup.yaml": DUPLICATE}
    )
    loaded = load_rules([folder])
    assert [str(p) for p in loaded.problems] == [
        "rules/a-facts.yaml:5:12: rule 'typo-in-fact': 'crosses_bounday' is not a fact of a "
        "flow (did you mean 'crosses_boundary'?)",
        "rules/a-facts.yaml:17:7: rule 'bad-level': 'classification': at_least needs one of "
        "public, internal, confidential, restricted",
        "rules/b-key.yaml:7:5: rule 'extra-key': unknown key 'severity'; allowed keys: id, "
        "title, applies_to, when, categories, cwe, capec, asvs, impact, likelihood, explanation, "
        "mitigation, lists",
        "rules/c-dup.yaml:3:9: rule id 'cleartext-crossing' is already defined in "
        "tm_docs/rules/flows.yaml",
    ]
    # The first definition of an id, the packaged one, is kept.
    assert loaded.by_id()["cleartext-crossing"].title == (
        "Data crosses a trust boundary unencrypted"
    )


def test_rule_file_mistakes_point_at_the_faulty_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    folder = _rules_folder(tmp_path, {"a-facts.yaml": BAD_FACTS, "c-dup.yaml": DUPLICATE})
    assert [(p.file, p.line) for p in load_rules([folder]).problems] == [
        ("rules/a-facts.yaml", 5),
        ("rules/a-facts.yaml", 17),
        ("rules/c-dup.yaml", 3),
    ]


def test_all_mistakes_of_one_rule_file_are_reported_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    bad_key_rule = BAD_KEY.removeprefix("rules:\n")
    folder = _rules_folder(tmp_path, {"mixed.yaml": BAD_FACTS + "\n" + bad_key_rule})
    messages = [p.message for p in load_rules([folder]).problems]
    assert len(messages) == 3
    assert any("crosses_bounday" in m for m in messages)
    assert any("at_least needs one of" in m for m in messages)
    assert any("unknown key 'severity'" in m for m in messages)


def test_a_missing_rules_folder_is_a_problem(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    assert [str(p) for p in load_rules([missing]).problems] == [
        f"{missing}:1:1: the rules folder does not exist"
    ]


def test_a_custom_rule_fires_like_a_packaged_one(tmp_path: Path, write_model: WriteModel) -> None:
    folder = _rules_folder(tmp_path, {"payments.yaml": CUSTOM_RULES})
    rules = load_rules([folder])
    assert rules.problems == ()
    assert len(rules.rules) == len(load_rules().rules) + 2
    body = """\
components:
  - {id: shop, title: Shop, kind: process}
  - {id: payments, title: Payments, kind: process}
  - {id: sessions, title: Session cache, kind: data_store, technology: Redis 7,
     data: [cart]}
flows:
  - {id: f1, source: shop, destination: payments, data: [cart], kind: request}
  - {id: f2, source: shop, destination: sessions}
assets:
  - {id: cart, title: Cart and payment details, kind: data_set, classification: confidential}
"""
    model = _model(write_model, body)
    found = {s.key: s for s in suggestions(model, rules.rules)}
    flow_rule = found["payments-without-idempotency@f1"]
    assert flow_rule.triage is Triage.UNTRIAGED
    assert flow_rule.rule.references == ["CWE-294", "CAPEC-60"]
    assert flow_rule.rule.risk == 12
    assert "cache-of-sensitive-data@sessions" in found
    # Not for the flow into the cache (not a process), nor for the processes (no cache).
    assert "payments-without-idempotency@f2" not in found
    assert "cache-of-sensitive-data@payments" not in found

    internal = _model(
        write_model,
        body.replace("classification: confidential", "classification: internal"),
        name="internal.yaml",
        model_id="internal",
    )
    keys = _keys(internal, rules)
    assert "payments-without-idempotency@f1" not in keys
    assert "cache-of-sensitive-data@sessions" not in keys


# --- triage ---------------------------------------------------------------

TRIAGED = """\
components:
  - {id: customer, title: Customer, kind: external_entity}
  - {id: api, title: API, kind: process}
flows:
  - {id: f1, source: customer, destination: api}
threats:
  - id: T-1
    title: Callers are not authenticated
    categories: [spoofing]
    targets: [f1]
    impact: 4
    likelihood: 3
    from_suggestion: ingress-authentication-unrecorded@f1
dismissed:
  - suggestion: ingress-target-without-rate-limit@api
    reason: The CDN in front limits requests per client.
  - suggestion: secrets-in-logs@api
    reason: Logs are scrubbed.
"""


def test_triage_of_suggestions(write_model: WriteModel, library: RuleSet) -> None:
    path = write_model(TRIAGED)
    result = load_models([path])
    assert result.problems == ()
    (loaded,) = result.models
    found = {s.key: s for s in suggestions(loaded.model, library.rules)}

    accepted = found["ingress-authentication-unrecorded@f1"]
    assert accepted.triage is Triage.ACCEPTED
    assert accepted.threat is not None and accepted.threat.id == "T-1"
    assert accepted.reason is None

    dismissed = found["ingress-target-without-rate-limit@api"]
    assert dismissed.triage is Triage.DISMISSED
    assert dismissed.reason == "The CDN in front limits requests per client."
    assert dismissed.threat is None

    # Nothing else was triaged.
    others = {k for k, s in found.items() if s.triage is Triage.UNTRIAGED}
    assert others == set(found) - {
        "ingress-authentication-unrecorded@f1",
        "ingress-target-without-rate-limit@api",
    }

    # api does not log sensitive data as far as the model says: that dismissal is stale.
    assert "secrets-in-logs@api" not in found
    stale = stale_dismissals(loaded.model, list(found.values()), "m.yaml", loaded.source)
    assert [(p.file, p.line, p.column, p.severity) for p in stale] == [
        ("m.yaml", 21, 17, Severity.WARNING)
    ]
    assert stale[0].message == (
        "dismissal of 'secrets-in-logs@api' matches no current suggestion (the rule no "
        "longer applies to that element); remove it"
    )


@pytest.mark.parametrize(
    "condition, message",
    [
        ("callers: {more_than: x}", "'callers': more_than needs a whole number"),
        ("assets: {more_than: 1}", "'assets' is a set fact; more_than works on number facts"),
        ("technology: {contains: x}", "'technology' is a text fact; contains works on set facts"),
        ("callers: {matches: x}", "'callers' is a number fact; matches works on text facts"),
    ],
)
def test_operators_must_suit_their_fact(tmp_path: Path, condition: str, message: str) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "r.yaml").write_text(
        "rules:\n  - id: odd\n    title: Odd\n    applies_to: component\n"
        f"    when: {{{condition}}}\n    categories: [tampering]\n    impact: 1\n"
        "    likelihood: 1\n    explanation: x\n    mitigation: y\n"
    )
    problems = load_rules([folder]).problems
    assert [p.message for p in problems] == [f"rule 'odd': {message}"]


def test_a_rebuild_reads_only_the_rule_files_that_changed(tmp_path: Path) -> None:
    """`mkdocs serve` keeps a rule memo: an unchanged rule file is not parsed again, an
    edited, broken or removed one is read as a fresh load would read it."""
    from tm_docs.load.rules import RuleMemo

    folder = tmp_path / "rules"
    folder.mkdir()
    rule = (
        "rules:\n  - id: odd\n    title: {title}\n    applies_to: flow\n"
        "    when: {{encrypted: false}}\n    categories: [tampering]\n"
        "    impact: 1\n    likelihood: 1\n    explanation: x\n    mitigation: y\n"
    )
    path = folder / "r.yaml"
    path.write_text(rule.format(title="Odd"))
    memo = RuleMemo()
    first = load_rules([folder], root=tmp_path, memo=memo)
    again = load_rules([folder], root=tmp_path, memo=memo)
    assert not first.problems and again == first
    assert all(a is b for a, b in zip(again.rules, first.rules, strict=True))  # not re-parsed
    for text in (rule.format(title="Even"), "rules: [", None):
        if text is None:
            path.unlink()
        else:
            path.write_text(text)
        assert load_rules([folder], root=tmp_path, memo=memo) == load_rules([folder], root=tmp_path)
    assert [r.id for r in load_rules([folder], root=tmp_path, memo=memo).rules] == [
        r.id for r in load_rules().rules
    ]
