"""`ecommerce kubeobj ...`: the Kubernetes object transformations the operations scripts pipe through.

Each reads a `kubectl ... -o json` (or `helm history -o json`) document on stdin and writes JSON or plain lines on
stdout; `split-manifests` reads a rendered chart and writes the manual's k8s/ layout. The logic is in
ecommerce/ops/kubeobj.py and ecommerce/ops/layout.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ecommerce.ops import kubeobj, layout

app = typer.Typer(help="Kubernetes object transformations for the operations scripts (JSON on stdin).")

NameOption = Annotated[str, typer.Option("--name", help="The new object's name.")]
LabelOption = Annotated[
    list[str] | None, typer.Option("--label", help="key=value, added to the object's labels (repeatable).")
]
ArgsArgument = Annotated[
    list[str] | None, typer.Argument(help="The container's arguments, after `--`.", show_default=False)
]


def labels_of(pairs: list[str] | None) -> dict[str, str]:
    """`["k=v", ...]` from repeated --label options -> a dict; a malformed pair is a usage error."""
    labels = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"label must be key=value: {pair}", param_hint="--label")
        labels[key] = value
    return labels


def print_json(document: dict[str, Any]) -> None:
    """The object on stdout, indented, for `kubectl apply -f -`."""
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")


@app.command()
def derive(
    name: NameOption,
    label: LabelOption = None,
    image_tag: Annotated[str | None, typer.Option(help="Retag every container's image.")] = None,
    replicas: Annotated[int | None, typer.Option(help="The copy's replica count.")] = None,
) -> None:
    """A copy of the Deployment on stdin under another name and extra labels (canary, blue-green colour)."""
    source = json.load(sys.stdin)
    print_json(kubeobj.derive(source, name=name, labels=labels_of(label), image_tag=image_tag, replicas=replicas))


@app.command("job-from-cronjob")
def job_from_cronjob(name: NameOption, label: LabelOption = None, args: ArgsArgument = None) -> None:
    """A Job from the CronJob on stdin's pod template, running ARGS (a restore)."""
    source = json.load(sys.stdin)
    print_json(kubeobj.job_from_cronjob(source, name=name, labels=labels_of(label), args=list(args or ())))


@app.command("pod-from-cronjob")
def pod_from_cronjob(name: NameOption, label: LabelOption = None, args: ArgsArgument = None) -> None:
    """A Pod from the CronJob on stdin's pod template, running ARGS (listing the backups)."""
    source = json.load(sys.stdin)
    print_json(kubeobj.pod_from_cronjob(source, name=name, labels=labels_of(label), args=list(args or ())))


@app.command()
def retag(image: str, tag: str) -> None:
    """IMAGE with TAG instead of its tag or digest (a registry port is kept)."""
    typer.echo(kubeobj.retag(image, tag))


@app.command("helm-last-good")
def helm_last_good() -> None:
    """The last revision before the current one that deployed well, from `helm history -o json` (none: nothing)."""
    revision = kubeobj.helm_last_good(json.load(sys.stdin))
    if revision is not None:
        typer.echo(revision)


@app.command("eureka-count")
def eureka_count() -> None:
    """`APP COUNT` per application registered, from the registry's /eureka/apps JSON."""
    for application, count in sorted(kubeobj.eureka_counts(json.load(sys.stdin)).items()):
        typer.echo(f"{application} {count}")


@app.command("split-manifests")
def split_manifests(
    out_dir: Annotated[Path, typer.Argument(help="Where the layout goes (replaced).")],
    env: Annotated[str, typer.Argument(help="The values file named in each file's header (values-ENV.yaml).")] = "dev",
) -> None:
    """Split a rendered chart (a YAML stream on stdin) into the operations manual's k8s/ layout under OUT_DIR."""
    try:
        layout.split(sys.stdin.read(), out_dir, env)
    except ValueError as error:
        typer.echo(f"split-manifests: {error}", err=True)
        raise typer.Exit(1) from None
