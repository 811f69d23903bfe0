"""The one check every registration path makes (`oracle market validate`, `market new`, `market
register`, the node's `Node.register`, `network.client.Client`): the spec parses (version 2, every
field), its trading is still open by `now` (the chain's clock when there is a chain), and every model
its rounds name is one this home knows and can answer the market's rule. One function, so a spec
`validate` passes is one `register` takes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from oracle.errors import NotFound, SpecError

from .spec import MarketSpec


def known_resolvers(store) -> dict[int, str]:
    """This home's resolver model ids by comparison width (what `oracle model resolvers` compiled)."""
    from oracle.models import list_models

    return {r.n_outputs: r.model_id for r in list_models(store) if r.family == "resolver"}


def _model_field(spec: MarketSpec, model_id: str) -> str:
    return "resolver" if model_id == spec.resolver else "forecast.model"


def check_spec(spec: MarketSpec | dict | str | Path, *, now: datetime, store) -> MarketSpec:
    """The one registration check (see module doc). Returns the parsed spec; raises SpecError naming
    the field. `now`: the chain's clock (or the creator's stated time without a chain)."""
    if isinstance(spec, MarketSpec):
        spec = MarketSpec.parse(spec.to_json(), now=now)
    elif isinstance(spec, dict):
        spec = MarketSpec.parse(spec, now=now)
    else:
        spec = MarketSpec.load(spec, now=now)
    from oracle.models import load_model

    for model_id in sorted({r.model for r in spec.rounds()}):
        try:
            record = load_model(store, model_id)
        except NotFound:
            field = _model_field(spec, model_id)
            if field == "resolver":
                width = spec.shape.n_constants
                mine = known_resolvers(store).get(width)
                hint = (f"this home's resolver over {width} comparison(s) is {mine}" if mine else
                        f"`oracle model resolvers --width {width}` compiles this home's")
            else:
                hint = "`oracle model list` shows the models this home knows"
            raise SpecError(field, f"model {model_id} is not a model this home knows ({hint})") from None
        spec.check_model(record)
    return spec


