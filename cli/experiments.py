"""`supportloop experiment(s) candidates|start|status|compare|promote|rollback|stop|share|extend`."""

from __future__ import annotations

import json

import click

from cli import acting, actor_option, choice, handle_errors, main, transaction
from core.experiments import analysis, candidates, registry
from core.experiments import lifecycle as experiments
from core.platform.config import get_settings
from core.platform.statuses import ExperimentKind, ExperimentMode


@main.group()
def experiment() -> None:
    """Experiments: test a candidate (KB version, chat model, embedding model) against production.
    Also `supportloop experiments ...`."""


main.add_command(experiment, name="experiments")


@experiment.command("candidates")
@handle_errors
def candidates_cmd() -> None:
    """What an experiment can test now: KB versions, fine-tuned embedding and chat models."""
    with transaction() as s:
        options = candidates.candidate_options(s, get_settings())
    if not options:
        click.echo("nothing to test yet: build a KB version (`supportloop kb build`), run the embedding "
                   "fine-tune (`supportloop finetune loop`), or name any chat model with --chat-model")
    how = {ExperimentKind.KB_VERSION: "--kb-version", ExperimentKind.CHAT_MODEL: "--chat-model",
           ExperimentKind.EMBEDDING_MODEL: "--embedding-model"}
    for o in options:
        click.echo(f"{o.kind:<16} {o.label}")
        click.echo(f"{'':17}start: supportloop experiments start {how[o.kind]} {o.ref} --actor NAME")


@experiment.command("start")
@click.option("--kind", type=choice(ExperimentKind),
              help="What the candidate is (default: from the option given).")
@click.option("--kb-version", "kb_version", type=int,
              help="Candidate KB version id (kb_version; with an embedding model folder, its KB version).")
@click.option("--chat-model", "chat_model", help="Candidate chat model: a fine-tune's id or any model name.")
@click.option("--embedding-model", "embedding_model",
              help="Candidate embedding model: a local fine-tune's id (local:minilm-ft-...) or folder.")
@click.option("--finetune", "finetune_job", type=int, help="Take the candidate a succeeded fine-tune offers.")
@click.option("--mode", type=choice(ExperimentMode), default=ExperimentMode.SPLIT.value, show_default=True)
@click.option("--share", type=float, help="Share of users in the candidate arm (default from settings, 0.1).")
@click.option("--days", type=int, help="Planned length in days (default from settings, 7).")
@click.option("--min-users", "min_users", type=int, help="Users per arm before a decision on metrics.")
@click.option("--name", default="", help="A name for the experiment.")
@actor_option(required=True, help="Your admin account name.")
@handle_errors
def start_cmd(kind, kb_version, chat_model, embedding_model, finetune_job, mode, share, days, min_users, name,
              actor) -> None:
    """Start an experiment of any candidate against what production serves now."""
    settings = get_settings()
    opts = dict(mode=mode, share=share, days=days, min_users_per_arm=min_users, name=name)
    with acting(actor) as (s, who):
        if finetune_job is not None:
            exp = experiments.start_from_finetune(s, settings, finetune_job, actor=who, **opts)
        else:
            kind, cand, job_id = candidates.resolve(s, kind=kind, kb_version_id=kb_version,
                                                    chat_model=chat_model, embedding_model=embedding_model)
            exp = candidates.start_candidate(s, settings, kind=kind, candidate=cand, actor=who,
                                             finetune_job_id=job_id, **opts)
        click.echo(f"experiment {exp.id} running ({exp.mode}, {exp.share:.0%} of users): {exp.name}; "
                   f"planned end {exp.planned_end_at:%Y-%m-%d %H:%M} UTC")


@experiment.command("status")
@click.argument("experiment_id", type=int, required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def status_cmd(experiment_id, as_json) -> None:
    """List experiments, or show one."""
    with transaction() as s:
        rows = ([registry.get_experiment(s, experiment_id)] if experiment_id is not None
                else registry.list_experiments(s))
        data = [{
            "id": e.id, "name": e.name, "kind": e.kind, "mode": e.mode, "status": e.status, "share": e.share,
            "started_at": e.started_at.isoformat(), "planned_end_at": e.planned_end_at.isoformat(),
            "recommendation": e.recommendation, "decision": e.decision, "reason": e.reason,
            "confirmed_by": e.confirmed_by, "control": e.control, "candidate": e.candidate,
        } for e in rows]
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    if not data:
        click.echo("no experiments; start one with `supportloop experiment start`")
    for d in data:
        click.echo(f"#{d['id']} {d['status']:<11} {d['kind']:<15} {d['mode']:<6} {d['share']:.0%}  "
                   f"{d['name']}")
        click.echo(f"    started {d['started_at'][:16]}, planned end {d['planned_end_at'][:16]}; "
                   f"last look: {d['recommendation'] or '-'}" + (f"; {d['decision']} by {d['confirmed_by']}: "
                                                                  f"{d['reason']}" if d["decision"] else ""))


def _pct(x) -> str:
    return "   n/a" if x is None else f"{x:6.1%}"


def _num(x, fmt=".3f") -> str:
    return "n/a" if x is None else format(x, fmt)


def _ci(ci, pct=True) -> str:
    lo, hi = ci
    if lo is None:
        return ""
    return f" [{lo:.1%}, {hi:.1%}]" if pct else f" [{lo:.2f}, {hi:.2f}]"


@experiment.command("compare")
@click.argument("experiment_id", type=int)
@click.option("--days", type=int, help="Only the last DAYS days (descriptive); default the whole experiment.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def compare_cmd(experiment_id, days, as_json) -> None:
    """Per-arm metrics with 95 % intervals, the tests and the recommendation."""
    settings = get_settings()
    with transaction() as s:
        cmp = analysis.compare_performance(s, experiment_id, settings, days=days)
    if as_json:
        click.echo(json.dumps(cmp.as_dict(), indent=2))
        return
    click.echo(f"experiment {cmp.experiment_id} ({cmp.kind}, {cmp.mode}, {cmp.share:.0%}): {cmp.status}, "
               f"{cmp.days_elapsed:g} days")
    click.echo(f"  control:   {cmp.control_label}\n  candidate: {cmp.candidate_label}")
    rows = [("users", "users", lambda v, a: str(v)), ("conversations", "conversations", lambda v, a: str(v)),
            ("containment", "containment", lambda v, a: _pct(v) + _ci(a["containment_ci"])),
            ("conversion", "conversion", lambda v, a: _pct(v) + _ci(a["conversion_ci"])),
            ("CSAT", "csat", lambda v, a: _num(v, ".2f") + _ci(a["csat_ci"], pct=False)),
            ("avg confidence", "avg_confidence", lambda v, a: _num(v)),
            ("error rate", "error_rate", lambda v, a: _pct(v)),
            ("response s", "avg_response_seconds", lambda v, a: _num(v, ".1f")),
            ("cost USD", "cost_usd", lambda v, a: _num(v, ".4f"))]
    click.echo(f"  {'':16}{'control':<30}candidate")
    for title, key, fmt in rows:
        left, right = fmt(cmp.control[key], cmp.control), fmt(cmp.candidate[key], cmp.candidate)
        click.echo(f"  {title:<16}{left:<30}{right}")
    c = cmp.composite
    if c["control"] is not None:
        click.echo(f"  composite       {c['control']:.3f} vs {c['candidate']:.3f}: lift {c['lift']:+.1%} "
                   f"(95 % CI {_pct(c['lift_ci'][0]).strip()} to {_pct(c['lift_ci'][1]).strip()}, "
                   f"{c['samples']} bootstrap samples)")
    for name, t in cmp.tests.items():
        if t["diff"] is not None:
            click.echo(f"  {name:<16}diff {t['diff']:+.4f}, always-valid p={t['p_value']:.4f}"
                       + (" (significant)" if t["significant"] else ""))
    if cmp.shadow:
        sh = cmp.shadow
        click.echo(f"  shadow: {sh['shadow_answers']} answers from {sh['users']} users; same chunk "
                   f"{_pct(sh['same_chunk_rate']).strip()}, similarity {_num(sh['avg_similarity'], '.2f')}, "
                   f"errors {_pct(sh['error_rate']).strip()}; judged {sh['judgement']['judged']}: "
                   f"{sh['judgement']['wins']} wins, {sh['judgement']['losses']} losses")
    click.echo(f"recommendation: {cmp.recommendation} — {cmp.reason}")
    if cmp.days_needed:
        click.echo(f"  at {cmp.users_per_day:g} users/day a decision needs about {cmp.days_needed:g} "
                   f"more days ({cmp.users_needed} users in all)")


@experiment.command("promote")
@click.argument("experiment_id", type=int)
@actor_option(required=True, help="Your admin account name (recorded as who confirmed).")
@click.option("--force", is_flag=True, help="Promote even when the comparison does not recommend it.")
@click.option("--reason", default="", help="Why (default: the comparison's reason).")
@handle_errors
def promote_cmd(experiment_id, actor, force, reason) -> None:
    """Switch production to the candidate (the comparison must recommend PROMOTE)."""
    with acting(actor) as (s, who):
        exp = experiments.promote(s, experiment_id, get_settings(), actor=who, force=force, reason=reason)
        click.echo(f"experiment {exp.id} promoted by {exp.confirmed_by}: production now serves "
                   f"{registry.label(exp.candidate)} (previous: {registry.label(exp.previous or {})})")


@experiment.command("rollback")
@click.argument("experiment_id", type=int)
@actor_option(required=True, help="Your admin account name.")
@click.option("--reason", required=True, help="Why.")
@handle_errors
def rollback_cmd(experiment_id, actor, reason) -> None:
    """End a running experiment in favour of control, or undo a promotion."""
    with acting(actor) as (s, who):
        exp = experiments.rollback(s, experiment_id, get_settings(), actor=who, reason=reason)
        click.echo(f"experiment {exp.id} rolled back by {exp.confirmed_by}")


@experiment.command("stop")
@click.argument("experiment_id", type=int)
@actor_option(required=True, help="Your admin account name.")
@click.option("--reason", required=True, help="Why.")
@handle_errors
def stop_cmd(experiment_id, actor, reason) -> None:
    """End a running experiment without a decision (production unchanged)."""
    with acting(actor) as (s, who):
        exp = experiments.stop(s, experiment_id, actor=who, reason=reason)
        click.echo(f"experiment {exp.id} stopped")


@experiment.command("share")
@click.argument("experiment_id", type=int)
@click.argument("share", type=float)
@actor_option(required=True, help="Your admin account name.")
@handle_errors
def share_cmd(experiment_id, share, actor) -> None:
    """Raise a running experiment's share (candidate users stay candidates)."""
    with acting(actor) as (s, who):
        exp = experiments.set_share(s, experiment_id, share, actor=who)
        click.echo(f"experiment {exp.id} now sends {exp.share:.0%} of users to the candidate")


@experiment.command("extend")
@click.argument("experiment_id", type=int)
@click.argument("days", type=int)
@actor_option(required=True, help="Your admin account name.")
@handle_errors
def extend_cmd(experiment_id, days, actor) -> None:
    """Move a running experiment's planned end DAYS later (up to the maximum length)."""
    settings = get_settings()
    with acting(actor) as (s, who):
        exp = experiments.extend(s, experiment_id, days, actor=who, settings=settings)
        click.echo(f"experiment {exp.id} now ends {exp.planned_end_at:%Y-%m-%d %H:%M} UTC")
