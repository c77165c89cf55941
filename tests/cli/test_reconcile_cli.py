"""`ecommerce reconcile` without a shop: an owner it cannot reach is a failed run (exit 1), never "in agreement"."""

from __future__ import annotations

import shop_testing
from typer.testing import CliRunner

from ecommerce.cli import app

runner = CliRunner()


def test_unknown_owner_is_refused() -> None:
    result = runner.invoke(app, ["reconcile", "--service", "user-service"], env=shop_testing.TEST_SECRETS)
    assert result.exit_code == 2, result.output


def test_an_owner_that_does_not_answer_fails_the_run() -> None:
    nobody = f"http://127.0.0.1:{shop_testing.free_port()}"
    result = runner.invoke(
        app,
        ["reconcile", "-s", "payment-service", "--url", f"payment-service={nobody}"],
        env={**shop_testing.TEST_SECRETS, "COLUMNS": "200"},
    )
    assert result.exit_code == 1, result.output
    assert "run failed" in result.output
