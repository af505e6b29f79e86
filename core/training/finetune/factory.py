"""The fine-tuning providers by name: ``openai`` (``openai_provider``) and ``local``
(``local_provider``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.platform.config import Settings
from core.platform.errors import ValidationError
from core.platform.models import FINETUNE_PROVIDERS
from core.platform.statuses import FinetuneProvider
from core.training.finetune.local_provider import LocalProvider
from core.training.finetune.openai_provider import OpenAIProvider
from core.training.finetune.provider import FineTuneProvider as Provider
from core.training.finetune.provider import ProviderFactory


def default_provider_factory(
    settings: Settings, embedder_loader: Callable[[], Any] | None = None
) -> ProviderFactory:
    """Providers by name: ``openai`` (needs SUPPORTLOOP_OPENAI_API_KEY) or ``local``."""

    def make(name: str) -> Provider:
        if name == FinetuneProvider.OPENAI:
            return OpenAIProvider(settings)
        if name == FinetuneProvider.LOCAL:
            return LocalProvider(settings, base_embedder_loader=embedder_loader)
        raise ValidationError(
            f"Unknown fine-tune provider {name!r}; use one of {', '.join(FINETUNE_PROVIDERS)}."
        )

    return make
