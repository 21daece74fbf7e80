"""Which `diagrams` icon stands for a component's technology.

A component's `technology` is free text ("postgresql", "kotlin, spring boot",
"kubernetes cronjob (python)").  The first rule whose pattern matches it picks
the icon; more specific rules come first.  No match means a generic shape.
"""

from __future__ import annotations

import importlib
import re
from functools import cache
from typing import Any

from diagrams import Node

# (pattern, "module.Class" under the diagrams package)
ICON_RULES: tuple[tuple[str, str], ...] = (
    (r"(aws|amazon).*api ?gateway|api ?gateway.*(aws|amazon)", "aws.network.APIGateway"),
    (r"\bcron ?jobs?\b", "k8s.compute.Cronjob"),
    (r"\bpostgres(ql)?\b", "onprem.database.Postgresql"),
    (r"\bmysql\b", "onprem.database.Mysql"),
    (r"\bmariadb\b", "onprem.database.Mariadb"),
    (r"\bmongo(db)?\b", "onprem.database.Mongodb"),
    (r"\bredis\b", "onprem.inmemory.Redis"),
    (r"\bmemcached\b", "onprem.inmemory.Memcached"),
    (r"\bkafka\b", "onprem.queue.Kafka"),
    (r"\brabbitmq\b", "onprem.queue.Rabbitmq"),
    (r"\bactivemq\b", "onprem.queue.Activemq"),
    (r"\bnats\b", "onprem.queue.Nats"),
    (r"\bsqs\b", "aws.integration.SQS"),
    (r"\bsns\b", "aws.integration.SNS"),
    (r"\bs3\b", "aws.storage.S3"),
    (r"\blambda\b", "aws.compute.Lambda"),
    (r"\bdynamodb\b", "aws.database.Dynamodb"),
    (r"\brds\b", "aws.database.RDS"),
    (r"\bcognito\b", "aws.security.Cognito"),
    (r"\bcloudfront\b", "aws.network.CloudFront"),
    (r"\baws secrets manager\b", "aws.security.SecretsManager"),
    (r"\bpub ?/ ?sub\b|\bpubsub\b", "gcp.analytics.PubSub"),
    (r"\bservice ?bus\b", "azure.integration.ServiceBus"),
    (r"\bnginx\b", "onprem.network.Nginx"),
    (r"\benvoy\b", "onprem.network.Envoy"),
    (r"\bhaproxy\b", "onprem.network.Haproxy"),
    (r"\bkong\b", "onprem.network.Kong"),
    (r"\btraefik\b", "onprem.network.Traefik"),
    (r"\bistio\b", "onprem.network.Istio"),
    (r"\bvault\b", "onprem.security.Vault"),
    (r"\bauth0\b", "saas.identity.Auth0"),
    (r"\bokta\b", "saas.identity.Okta"),
    (r"\btwilio\b", "saas.communication.Twilio"),
    (r"\belasticsearch\b", "elastic.elasticsearch.Elasticsearch"),
    (r"\bprometheus\b", "onprem.monitoring.Prometheus"),
    (r"\bceph\b", "onprem.storage.Ceph"),
    (r"\b(browser|mobile|ios|android|web app)\b", "onprem.client.Client"),
    (r"\bdjango\b", "programming.framework.Django"),
    (r"\bflask\b", "programming.framework.Flask"),
    (r"\bfastapi\b", "programming.framework.Fastapi"),
    (r"\bspring\b", "programming.framework.Spring"),
    (r"\bkotlin\b", "programming.language.Kotlin"),
    (r"\bjava\b", "programming.language.Java"),
    (r"\bpython\b", "programming.language.Python"),
    (r"\bnode(\.?js)?\b", "programming.language.Nodejs"),
    (r"\bgo(lang)?\b", "programming.language.Go"),
    (r"\bobject storage\b|\bbucket\b", "generic.storage.Storage"),
    (r"\bkubernetes\b|\bk8s\b", "k8s.compute.Pod"),
    (r"\bdocker\b", "onprem.container.Docker"),
)

_COMPILED = tuple((re.compile(p, re.IGNORECASE), target) for p, target in ICON_RULES)


@cache
def _node_class(target: str) -> type[Node]:
    module, name = target.rsplit(".", 1)
    cls = getattr(importlib.import_module(f"diagrams.{module}"), name)
    assert isinstance(cls, type) and issubclass(cls, Node)
    return cls


@cache
def icon_path(cls: Any) -> str:
    """The icon file of a `diagrams` node class."""
    return str(cls._load_icon(cls))  # the method reads only class attributes


@cache
def icon_for(technology: str | None) -> Any:
    """The `diagrams` node class (a Node subclass) whose icon shows this technology, or None."""
    if not technology:
        return None
    for pattern, target in _COMPILED:
        if pattern.search(technology):
            return _node_class(target)
    return None
