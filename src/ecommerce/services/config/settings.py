"""cloud-config-server's knobs: where the configuration lives and the encryption key (callers: access.py)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field

from ecommerce.chassis import ServiceSettings

# src/ecommerce/services/config/settings.py -> the repository root holds config-repo/.
_SOURCE_TREE_REPO = Path(__file__).resolve().parents[4] / "config-repo"


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class ConfigServerSettings(ServiceSettings):
    """Folder backend by default (config-repo/); a git repository when `git_uri` is set."""

    # The config server never asks itself for settings: CONFIG_SERVER_URL, set for the whole shop, is ignored.
    config_server_url: str | None = Field(None, validation_alias=_env("config_server_url"))
    config_repo_dir: Path | None = Field(None, validation_alias=_env("CONFIG_REPO_DIR", "config_repo_dir"))
    git_uri: str | None = Field(
        None, validation_alias=_env("CONFIG_GIT_URI", "SPRING_CLOUD_CONFIG_SERVER_GIT_URI", "git_uri")
    )
    default_label: str = Field(
        "main",
        validation_alias=_env("CONFIG_DEFAULT_LABEL", "SPRING_CLOUD_CONFIG_SERVER_GIT_DEFAULT_LABEL", "default_label"),
    )
    git_refresh_seconds: float = Field(
        30.0, ge=0, validation_alias=_env("CONFIG_GIT_REFRESH_SECONDS", "git_refresh_seconds")
    )
    git_cache_dir: Path | None = Field(None, validation_alias=_env("CONFIG_GIT_CACHE_DIR", "git_cache_dir"))
    encrypt_key: str | None = Field(None, validation_alias=_env("ENCRYPT_KEY", "encrypt_key"))

    @property
    def repo_dir(self) -> Path:
        """The folder backend's root: CONFIG_REPO_DIR, else ./config-repo, else the source tree's."""
        if self.config_repo_dir is not None:
            return self.config_repo_dir
        local = Path("config-repo")
        return local if local.is_dir() else _SOURCE_TREE_REPO
