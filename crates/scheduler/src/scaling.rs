//! Scheduled scaling as Application Auto Scaling applies it (aws-behavior.md §4.7): each
//! `[[services.NAME.schedule]]` action fires at its `cron`, `at` or `rate` times in its
//! time zone (computed by `albless-schedule`) and sets the scalable target's minimum
//! and/or maximum capacity; a desired count below the new minimum is raised to it, one
//! above the new maximum lowered to it, any other left alone.
//!
//! Known limits: the scalable target starts at min 0 / max unbounded when `up` starts
//! (the stack registers no other bounds); actions whose time passed while albless was
//! not running are not applied late (Application Auto Scaling does not either); a
//! `rate` counts from the start of `albless up`.

use std::sync::Arc;

use albless_schedule::{Schedule, ScheduledAction, Target};
use albless_spec::ScheduleExpr;
use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::SchedulerHandle;
use crate::Shared;
use crate::model::ServiceUpdate;

/// The actions of `service` in `albless-schedule`'s terms; actions it cannot read are
/// logged and skipped (the spec crate has checked them already).
pub(crate) fn actions(service: &albless_spec::Service) -> Vec<ScheduledAction> {
    service
        .schedule
        .iter()
        .filter_map(|a| {
            let schedule = match &a.schedule {
                ScheduleExpr::Cron(c) => Schedule::parse(&c.to_string()),
                ScheduleExpr::At(at) => Ok(Schedule::At(*at)),
                ScheduleExpr::Rate(period) => Schedule::every(*period),
            };
            match schedule {
                Ok(s) => Some(ScheduledAction::new(&a.name, s, a.timezone, a.min_capacity, a.max_capacity)),
                Err(error) => {
                    tracing::warn!(service = %service.name, action = %a.name, %error, "skipping a scheduled action");
                    None
                }
            }
        })
        .collect()
}

/// Fires `service`'s scheduled actions until `shutdown`.
pub(crate) async fn run(sh: Arc<Shared>, service: String, mut shutdown: watch::Receiver<bool>) {
    let Some(spec) = sh.stack.services.get(&service) else {
        return;
    };
    let actions = actions(spec);
    if actions.is_empty() {
        return;
    }
    let handle = SchedulerHandle::new(sh.clone());
    let anchor = utc(sh.clock.epoch());
    let mut target = Target::new(0);
    let mut after = anchor;
    loop {
        // The next fire time, and every action firing then (applied in file order).
        let fires: Vec<(DateTime<Utc>, &ScheduledAction)> = actions
            .iter()
            .filter_map(|a| a.next_fire(after, false, anchor).map(|t| (t, a)))
            .collect();
        let Some(at) = fires.iter().map(|(t, _)| *t).min() else {
            return;
        };
        let when = sh
            .clock
            .instant_at_epoch(at.timestamp_millis() as f64 / 1000.0);
        tokio::select! {
            _ = tokio::time::sleep_until(when) => {}
            _ = shutdown.changed() => return,
        }
        after = at;
        for action in fires.iter().filter(|(t, _)| *t == at).map(|(_, a)| *a) {
            let Some(current) = handle.describe_service(&service) else {
                return;
            };
            target.desired = current.desired_count;
            target.apply(action);
            let max = if target.max == u32::MAX {
                "unbounded".to_string()
            } else {
                target.max.to_string()
            };
            let message = format!(
                "(service {service}) scheduled action {} set capacity min {} max {max}: desired count {}.",
                action.name, target.min, target.desired
            );
            sh.lock().event(&service, message, &sh.clock);
            if target.desired != current.desired_count {
                let update = ServiceUpdate {
                    desired_count: Some(target.desired),
                    ..Default::default()
                };
                let _ = handle.update_service(&service, update);
            }
        }
    }
}

fn utc(epoch: f64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis((epoch * 1000.0) as i64).unwrap_or_default()
}
