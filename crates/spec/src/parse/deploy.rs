//! Health and deployment settings of a service: `health_check`, `min_healthy_percent` and
//! `max_percent` (with the check that a deployment can complete), `circuit_breaker`,
//! `[[capacity]]`, `scale_to_zero` and `logging`.

use std::time::Duration;

use toml::Spanned;

use super::{invalid, seconds};
use crate::error::Kind;
use crate::model::{
    CapacityItem, CapacityProvider, CircuitBreaker, HealthCheck, HealthCheckKind, Logging,
    ScaleToZero,
};
use crate::walk::{Result, Table, list};

/// The retention periods CloudWatch Logs accepts, in days (`PutRetentionPolicy`).
const RETENTION_DAYS: [i64; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// The deployment bounds of a service, checked together.
pub(super) struct Deployment {
    pub(super) min_healthy_percent: u32,
    pub(super) max_percent: u32,
}

/// `min_healthy_percent` and `max_percent`, refused when no deployment could ever
/// complete with `desired` tasks.
///
/// ECS rounds the minimum up and the maximum down (aws-behavior.md section 4.4): when
/// floor(desired * max / 100) is not above ceil(desired * min / 100), every allowed task
/// must keep running and none may be added, so the deployment never starts a new task.
pub(super) fn deployment(t: &Table<'_, '_>, desired: u32) -> Result<Deployment> {
    let min = t.int("min_healthy_percent", 0, 100)?;
    let max = t.int("max_percent", 100, 200)?;
    let min_pct = min.as_ref().map_or(100, |v| *v.as_ref());
    let max_pct = max.as_ref().map_or(200, |v| *v.as_ref());
    let d = i64::from(desired);
    let keep = (d * min_pct + 99) / 100;
    let cap = d * max_pct / 100;
    if d > 0 && cap <= keep {
        // Only a written maximum can be too low: the default 200 % always leaves room.
        let span = max.as_ref().map_or(t.span.clone(), |v| v.span());
        let mut fixes = Vec::new();
        // The smallest maximum with floor(d * max / 100) > keep.
        let need_max = ((keep + 1) * 100 + d - 1) / d;
        if need_max <= 200 {
            fixes.push(format!("raise `max_percent` to {need_max}"));
        }
        // The largest minimum with ceil(d * min / 100) < cap.
        if cap > 0 {
            fixes.push(format!(
                "lower `min_healthy_percent` to {}",
                (cap - 1) * 100 / d
            ));
        }
        let message = format!(
            "no deployment can complete: with desired_count {d}, ECS keeps \
             ceil({d} x {min_pct} %) = {keep} task(s) running and allows at most \
             floor({d} x {max_pct} %) = {cap}, so no new task can start"
        );
        return Err(t
            .error(Kind::Conflict, span, "max_percent", message)
            .with_help(fixes.join(", or ")));
    }
    Ok(Deployment {
        min_healthy_percent: min_pct as u32,
        max_percent: max_pct as u32,
    })
}

/// `[services.NAME.circuit_breaker]`: on with rollback unless the file says otherwise.
pub(super) fn circuit_breaker(t: &Table<'_, '_>) -> Result<CircuitBreaker> {
    let path = t.field("circuit_breaker");
    let Some(cb) = t.table("circuit_breaker", &path)? else {
        return Ok(CircuitBreaker::default());
    };
    cb.deny_unknown(&["enable", "rollback", "threshold"])?;
    Ok(CircuitBreaker {
        enable: cb.bool_or("enable", true)?,
        rollback: cb.bool_or("rollback", true)?,
        // The bounds of ECS's own rule, clamp(ceil(desired / 2), 3, 200), let down to 1 so
        // a test can trip the breaker on the first failure.
        threshold: cb.int("threshold", 1, 200)?.map(|v| *v.as_ref() as u32),
    })
}

/// `[[services.NAME.capacity]]`: the capacity provider strategy, with the ECS rules
/// (aws-behavior.md section 4.6): no provider twice, at most one item with a base, not
/// every weight 0.
pub(super) fn capacity(t: &Table<'_, '_>) -> Result<Vec<CapacityItem>> {
    let Some(array) = t.array("capacity", "an array of tables")? else {
        return Ok(vec![CapacityItem {
            provider: CapacityProvider::Fargate,
            base: 0,
            weight: 1,
        }]);
    };
    if array.as_ref().is_empty() {
        return Err(t.error(Kind::Invalid, array.span(), "capacity", "must not be empty"));
    }
    let mut items: Vec<CapacityItem> = Vec::new();
    let mut with_base: Option<usize> = None;
    let mut last_weight = t.span.clone();
    for (i, value) in array.as_ref().iter().enumerate() {
        let path = format!("{}[{i}]", t.field("capacity"));
        let item = t.as_table(value, &path)?;
        item.deny_unknown(&["provider", "base", "weight"])?;
        let name = item
            .string("provider")?
            .ok_or_else(|| item.missing("provider"))?;
        let provider = match *name.as_ref() {
            "FARGATE" => CapacityProvider::Fargate,
            "FARGATE_SPOT" => CapacityProvider::FargateSpot,
            other => {
                return Err(item
                    .error(
                        Kind::Invalid,
                        name.span(),
                        "provider",
                        format!("unknown capacity provider `{other}`"),
                    )
                    .with_help("expected `FARGATE` or `FARGATE_SPOT`"));
            }
        };
        if items.iter().any(|it| it.provider == provider) {
            return Err(item.error(
                Kind::Conflict,
                name.span(),
                "provider",
                format!("`{}` is listed twice", provider.name()),
            ));
        }
        let base = item.int("base", 0, 100_000)?;
        if let Some(b) = &base
            && *b.as_ref() > 0
        {
            if let Some(first) = with_base {
                return Err(item
                    .error(
                        Kind::Conflict,
                        b.span(),
                        "base",
                        "only one capacity provider may set a base",
                    )
                    .with_help(format!(
                        "`{}[{first}]` already sets one",
                        t.field("capacity")
                    )));
            }
            with_base = Some(i);
        }
        let weight = item.int("weight", 0, 1000)?;
        if let Some(w) = &weight {
            last_weight = w.span();
        }
        items.push(CapacityItem {
            provider,
            base: base.map_or(0, |b| *b.as_ref() as u32),
            weight: weight.map_or(1, Spanned::into_inner) as u32,
        });
    }
    if items.iter().all(|it| it.weight == 0) {
        return Err(t
            .error(
                Kind::Conflict,
                last_weight,
                "capacity",
                "every weight is 0: no task could be placed",
            )
            .with_help("give at least one provider a weight of 1 or more"));
    }
    Ok(items)
}

/// `[services.NAME.scale_to_zero]` (beyond AWS): off unless the table is there.
pub(super) fn scale_to_zero(t: &Table<'_, '_>) -> Result<Option<ScaleToZero>> {
    let path = t.field("scale_to_zero");
    let Some(s) = t.table("scale_to_zero", &path)? else {
        return Ok(None);
    };
    s.deny_unknown(&["idle_after", "wake_timeout"])?;
    Ok(Some(ScaleToZero {
        idle_after: seconds(&s, "idle_after", 10, 86_400, 300)?,
        wake_timeout: seconds(&s, "wake_timeout", 1, 300, 30)?,
    }))
}

/// `[services.NAME.logging]`: the log group's retention, one of CloudWatch's values.
pub(super) fn logging(t: &Table<'_, '_>) -> Result<Option<Logging>> {
    let path = t.field("logging");
    let Some(l) = t.table("logging", &path)? else {
        return Ok(None);
    };
    l.deny_unknown(&["retention_days"])?;
    let days = l.int("retention_days", i64::MIN, i64::MAX)?;
    let retention_days = match &days {
        None => 7,
        Some(d) if RETENTION_DAYS.contains(d.as_ref()) => *d.as_ref(),
        Some(d) => {
            return Err(l
                .error(
                    Kind::OutOfRange,
                    d.span(),
                    "retention_days",
                    format!(
                        "{} days is not a CloudWatch Logs retention period",
                        d.as_ref()
                    ),
                )
                .with_help(format!(
                    "expected one of {}",
                    list(&RETENTION_DAYS.map(|d| d.to_string()))
                )));
        }
    };
    Ok(Some(Logging {
        retention_days: retention_days as u32,
    }))
}

/// `[services.NAME.health_check]`. Ranges and defaults are those of the ECS HealthCheck
/// type (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_HealthCheck.html).
pub(super) fn health_check(t: &Table<'_, '_>) -> Result<HealthCheck> {
    t.deny_unknown(&[
        "path",
        "command",
        "interval",
        "timeout",
        "retries",
        "start_period",
    ])?;

    let path = t.string("path")?;
    let command = t.strings("command")?;
    let kind = match (path, command) {
        (Some(_), Some(cmd)) => {
            return Err(t
                .ctx
                .error(
                    Kind::Invalid,
                    cmd.span(),
                    t.field("command"),
                    "set either `path` or `command`, not both",
                )
                .with_help("`path` is an HTTP check; `command` runs a program"));
        }
        (None, None) => {
            return Err(t
                .ctx
                .error(
                    Kind::Missing,
                    t.span.clone(),
                    t.path,
                    "missing `path` or `command`",
                )
                .with_help("set `path = \"/health\"` for an HTTP check, or `command = [...]`"));
        }
        (Some(p), None) => {
            if !p.as_ref().starts_with('/') {
                return Err(invalid(t, &p, "path", "must start with `/`"));
            }
            HealthCheckKind::Http {
                path: p.as_ref().to_string(),
            }
        }
        (None, Some(cmd)) => {
            let args = cmd.as_ref();
            // ECS form: `CMD` / `CMD-SHELL` then what to run; anything else is run as given.
            let bare_marker = matches!(args[0].as_str(), "CMD" | "CMD-SHELL") && args.len() == 1;
            if args[0].is_empty() || bare_marker {
                return Err(t.ctx.error(
                    Kind::Invalid,
                    cmd.span(),
                    t.field("command"),
                    "nothing to run",
                ));
            }
            HealthCheckKind::Command(cmd.into_inner())
        }
    };

    let secs = |key, min, max, default| -> Result<u64> {
        Ok(t.int(key, min, max)?
            .map_or(default, |v| *v.as_ref() as u64))
    };
    Ok(HealthCheck {
        kind,
        interval: Duration::from_secs(secs("interval", 5, 300, 30)?),
        timeout: Duration::from_secs(secs("timeout", 2, 60, 5)?),
        retries: secs("retries", 1, 10, 3)? as u32,
        start_period: Duration::from_secs(secs("start_period", 0, 300, 0)?),
    })
}
