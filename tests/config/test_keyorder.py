"""The canonical key order comes from the resource models, so a field added there is placed without another list."""

from __future__ import annotations

from pydantic import BaseModel

from dpm.config.keyorder import PROVIDER, TEMPLATE, TEMPLATED_PROVIDER, Shape, document_shape
from dpm.resources import models


def test_the_order_of_a_provider_and_its_models() -> None:
    assert PROVIDER.keys == (
        "kind", "identifier", "name", "description", "apiEndpoint", "authMethod", "authConfig", "capabilities",
        "status", "models",
    )  # fmt: skip
    assert PROVIDER.children["models"].keys == (
        "identifier", "name", "description", "contextLength", "isDefault", "status", "capabilities", "pricingInfo",
    )  # fmt: skip
    pricing = PROVIDER.children["models"].children["pricingInfo"]
    assert pricing.keys == ("inputTokenPrice", "outputTokenPrice", "currency")
    assert TEMPLATE.children["defaultModels"] == PROVIDER.children["models"]


def test_every_field_of_every_model_has_its_place() -> None:
    def covers(shape: Shape, model: type[BaseModel]) -> None:
        assert sorted(shape.keys) == sorted(model.model_fields)

    covers(PROVIDER, models.ProviderDocument)
    covers(TEMPLATED_PROVIDER, models.TemplatedProviderDocument)
    covers(TEMPLATE.children["providerConfig"], models.TemplateProviderConfig)
    covers(PROVIDER.children["capabilities"].children["rateLimits"], models.RateLimitConfig)


def test_unknown_keys_stay_after_the_key_written_before_them() -> None:
    assert PROVIDER.order(["name", "kind", "descripton", "identifier", "x-extra"]) == [
        "kind", "descripton", "identifier", "x-extra", "name",
    ]  # fmt: skip


def test_the_kind_chooses_the_shape() -> None:
    assert document_shape({"kind": "Provider", "fromTemplate": "t"}) is TEMPLATED_PROVIDER
    assert document_shape({"kind": "Policy"}) is None
