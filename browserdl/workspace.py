"""Where everything a run produces lives: models, formats, the results store, the report."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from browserdl.errors import UserError

ENV_VAR = "BROWSERDL_WORKSPACE"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def open(cls, path: Path | str | None = None) -> Workspace:
        """The workspace at `path`, else $BROWSERDL_WORKSPACE, else ./workspace; made writable or refused."""
        root = Path(path or os.environ.get(ENV_VAR) or "workspace").expanduser().resolve()
        try:
            root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=root, prefix=".write-check-"):
                pass
        except OSError as exc:
            raise UserError(
                f"workspace {root} is not writable ({exc.strerror or exc}); "
                f"pass --workspace DIR or set {ENV_VAR} to a folder you can write"
            ) from None
        return cls(root)

    @property
    def models(self) -> Path:
        return self.root / "models"

    def model_dir(self, model_id: str) -> Path:
        return self.models / model_id

    @property
    def formats(self) -> Path:
        return self.root / "formats"

    @property
    def store_path(self) -> Path:
        return self.root / "results.sqlite"

    @property
    def report(self) -> Path:
        return self.root / "report"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    def trained_models(self) -> list[str]:
        """Ids of the models ready to convert: a meta.json and the model (model.h5, or an added
        model's source/ copy), sorted."""
        if not self.models.is_dir():
            return []
        return sorted(
            d.name
            for d in self.models.iterdir()
            if not d.name.startswith(".")  # a scratch folder of a conversion or `add` under way
            and (d / "meta.json").is_file() and ((d / "model.h5").is_file() or (d / "source").is_dir())
        )


def node_modules() -> Path:
    """The npm packages set-up installs beside the project (`npm ci`)."""
    return Path(os.environ.get("BROWSERDL_NODE_MODULES") or PROJECT_ROOT / "node_modules")
