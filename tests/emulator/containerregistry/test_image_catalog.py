"""The built-in public image catalogue and image reference parsing."""

from __future__ import annotations

import pytest

from pytest_acalab.emulator.containerregistry import catalog


def test_quickstart_image() -> None:
    image = catalog.lookup("mcr.microsoft.com", "k8se/quickstart", "latest")
    assert image is not None
    config = image.container_config()
    assert config.exposed_ports == ["80/tcp"]
    assert config.cmd
    assert image.files(), "the layer must hold a placeholder file"
    assert any(path.endswith("PLACEHOLDER.txt") for path in image.files())
    assert catalog.lookup("mcr.microsoft.com", "k8se/quickstart", "latest") == image  # stable digest


def test_helloworld_image_and_misses() -> None:
    image = catalog.lookup_reference("mcr.microsoft.com/azuredocs/containerapps-helloworld:latest")
    assert image is not None and image.container_config().exposed_ports == ["80/tcp"]
    quickstart = catalog.lookup_reference("mcr.microsoft.com/k8se/quickstart")
    assert quickstart is not None and quickstart.digest != image.digest
    assert catalog.lookup("mcr.microsoft.com", "k8se/quickstart", "v2") is None
    assert catalog.lookup_reference("python:3.11-slim") is None
    assert catalog.lookup_reference("docker.io/library/python:3.11-slim") is None
    assert len(catalog.references()) >= 2


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag"),
    [
        ("python:3.11-slim", "docker.io", "library/python", "3.11-slim"),
        ("nginx", "docker.io", "library/nginx", "latest"),
        ("user/app:1", "docker.io", "user/app", "1"),
        ("mcr.microsoft.com/k8se/quickstart:latest", "mcr.microsoft.com", "k8se/quickstart", "latest"),
        ("localhost:5000/app", "localhost:5000", "app", "latest"),
        ("labacr.azurecr.io/labacr:v1", "labacr.azurecr.io", "labacr", "v1"),
    ],
)
def test_parse_reference(text: str, registry: str, repository: str, tag: str) -> None:
    ref = catalog.parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag) == (registry, repository, tag)


def test_parse_reference_rejects_bad_names() -> None:
    with pytest.raises(ValueError, match="invalid reference format"):
        catalog.parse_reference("Upper/Case:1")
    assert catalog.parse_reference("python:3.11-slim").display_registry == "registry.hub.docker.com"
