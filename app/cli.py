"""`flask --app wsgi <command>`: work done in this process; non-zero exit on failure."""

from __future__ import annotations

import contextlib
import json

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from app.domain.settings import SETTINGS, SettingError, format_value
from app.extensions import db
from app.services import adjustment, azure_usage, demo
from app.services import settings as settings_service
from app.services import sync as sync_service


def register(app: Flask) -> None:
    """Attach the commands to the app's CLI."""
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(settings_command)
    app.cli.add_command(worker_command)
    app.cli.add_command(sync_command)
    app.cli.add_command(reconcile_command)
    app.cli.add_command(send_reminders_command)
    app.cli.add_command(azure_usage_command)


@click.command("seed-demo")
@click.option(
    "--storefront",
    is_flag=True,
    help="Also load the catalogue and give the demo customers a products-for-sale profile.",
)
@with_appcontext
def seed_demo_command(storefront: bool) -> None:
    """Create the demo partner, customers, subscriptions and people (safe to run twice)."""
    try:
        counts = demo.seed_demo()
        offers = demo.seed_storefront() if storefront else None
    except demo.DemoError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"Demo ready: {counts['customers']} new customers, "
        f"{counts['subscriptions']} new subscriptions, {counts['people']} new people."
    )
    if offers is not None:
        click.echo(f"Storefront open for the demo customers: {offers} offers in their profile.")


@click.command("settings")
@with_appcontext
@click.argument("customer")
@click.argument("changes", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the settings as JSON.")
def settings_command(customer: str, changes: tuple[str, ...], as_json: bool) -> None:
    """Print a customer's relationship settings, or set KEY=VALUE pairs (all or nothing)."""
    raw: dict[str, str] = {}
    for change in changes:
        key, sep, value = change.partition("=")
        if not sep or not key.strip():
            raise click.UsageError(f"Write changes as KEY=VALUE, not {change!r}.")
        raw[key.strip()] = value
    try:
        if raw:
            values = settings_service.change_settings(customer, raw, actor="cli")
        else:
            values = settings_service.get_settings(customer)
    except (SettingError, settings_service.CustomerNotFound) as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        click.echo(json.dumps({k: format_value(v) for k, v in values.items()}, indent=2))
        return
    for spec in SETTINGS:
        click.echo(f"{spec.key:<26} {format_value(values[spec.key])}")


@click.command("worker")
@with_appcontext
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
def worker_command(burst: bool) -> None:
    """Run an RQ worker (with the scheduler) whose jobs inherit this app context."""
    from rq import Worker

    from app.queue import get_queue, get_redis

    _warm_up()
    db.engine.dispose()  # forked job processes must not share the parent's connections
    queue = get_queue()
    current_app.logger.info("worker listening on queue %s", queue.name)
    Worker([queue], connection=get_redis()).work(burst=burst, with_scheduler=True)


def _warm_up() -> None:
    """Do once, before RQ forks a work horse per job, what each job would repeat.

    Measured (bench/BENCHMARKS.md, changes): a cold horse spent ~140 ms of CPU on a
    one-seat change, mostly configuring the mappers, compiling SQL, importing httpx's
    transport and building a TLS context; warm, the same job takes ~40 ms.
    """
    from sqlalchemy.orm import configure_mappers

    from app.services import licensing
    from app.services.microsoft import factory

    configure_mappers()
    factory.warm_up()
    with contextlib.suppress(LookupError):
        licensing.apply_change(0)  # compiles the lookup every change starts with
    db.session.rollback()


@click.command("sync")
@click.option("--customer", "customer_id", help="Partner Center id of one customer.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_appcontext
def sync_command(customer_id: str | None, as_json: bool) -> None:
    """Bring customers, subscriptions, seats and users in step with Partner Center."""
    report = sync_service.sync_customer(customer_id) if customer_id else sync_service.sync_all()
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        click.echo(
            f"Synced {report.customers} customers ({report.customers_created} new): "
            f"{report.subscriptions_created} subscriptions added, "
            f"{report.subscriptions_changed} changed, {report.subscriptions_gone} gone, "
            f"{report.users} users; {report.requests} requests to Microsoft."
        )
        for customer, message in report.failed.items():
            click.echo(f"  {customer}: {message}", err=True)
    if report.failed:
        raise SystemExit(1)


@click.command("reconcile")
@click.option("--customer", "customer_id", help="Partner Center id of one customer.")
@click.option("--dry-run", is_flag=True, help="Plan and show, change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print plans and outcomes as JSON.")
@with_appcontext
def reconcile_command(customer_id: str | None, dry_run: bool, as_json: bool) -> None:
    """Return seats nobody uses, within the New Commerce rules (auto license adjustment)."""
    customers = [customer_id] if customer_id else adjustment.eligible_customers()
    outcomes, failures = [], {}
    for customer in customers:
        try:
            outcome = adjustment.preview(customer) if dry_run else adjustment.run(customer)
        except adjustment.AdjustmentError as error:
            failures[customer] = str(error)
            continue
        outcomes.append(outcome)
    if as_json:
        click.echo(
            json.dumps({"runs": [o.as_dict() for o in outcomes], "failed": failures}, indent=2)
        )
    else:
        if not customers:
            click.echo("No customer has auto license adjustment on.")
        for o in outcomes:
            verb = "would save" if dry_run else "saves"
            click.echo(
                f"{o.customer}: {o.state}; {verb} {o.saving_now}/month now and "
                f"{o.saving_at_renewal}/month from renewals."
            )
            for action in o.actions:
                outcome = f" [{action['outcome']}]" if "outcome" in action else ""
                click.echo(
                    f"  {action['kind']:<18} {action['subscription']:<24} "
                    f"{action['from_quantity']:>4} -> {action['to_quantity']:<4} "
                    f"{action['reason']}{outcome}"
                )
        for customer, message in failures.items():
            click.echo(f"{customer}: {message}", err=True)
    if failures or any(o.state in ("failed", "partial") for o in outcomes):
        raise SystemExit(1)


@click.command("send-reminders")
@click.option("--day", help="The day to send for (YYYY-MM-DD; default today, UTC).")
@with_appcontext
def send_reminders_command(day: str | None) -> None:
    """Send the renewal and end-of-term reminders due (each once; docs/email.md)."""
    from datetime import date

    from app.models._types import utcnow
    from app.services import mail

    try:
        counts = mail.send_reminders(date.fromisoformat(day) if day else utcnow().date())
    except mail.MailError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Reminders: {counts['sent']} sent, {counts['already']} sent before.")


@click.command("azure-usage")
@click.option("--json", "as_json", is_flag=True, help="Print what was imported as JSON.")
@with_appcontext
def azure_usage_command(as_json: bool) -> None:
    """Import last month's and this month's Azure usage of customers with Azure sync on."""
    report = azure_usage.import_usage()
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    click.echo(
        f"Imported {report.rows} usage rows from {report.lines} daily lines for "
        f"{len(report.months)} customers ({report.skipped} lines of customers without "
        "Azure sync left out)."
    )
