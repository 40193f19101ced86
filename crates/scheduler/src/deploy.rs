//! The rolling-update arithmetic of the ECS service scheduler, as pure functions: the
//! bounds `minimumHealthyPercent` and `maximumPercent` put on a deployment, the circuit
//! breaker threshold, and one planning step (which tasks to start and stop now).
//!
//! Sources: aws-behavior.md §4.4 (ECS-ROLLING, ECS-CB). Known limits: the breaker's
//! `ThresholdConfiguration` types other than a count are not modelled, and the 2023
//! rule that the breaker does not start when the service already had running tasks is
//! not applied (current docs no longer state it).

/// Tasks that must stay healthy during a deployment: `minimumHealthyPercent` of the
/// desired count, rounded up (§4.4).
pub fn min_healthy(desired: u32, percent: u32) -> u32 {
    (desired * percent).div_ceil(100)
}

/// Most tasks running or pending during a deployment: `maximumPercent` of the desired
/// count, rounded down (§4.4).
pub fn max_total(desired: u32, percent: u32) -> u32 {
    desired * percent / 100
}

/// Failed tasks that trip the deployment circuit breaker: the set threshold, else
/// ECS's `clamp(ceil(0.5 × desired), 3, 200)` (§4.4, §6.18).
pub fn breaker_threshold(desired: u32, set: Option<u32>) -> u32 {
    set.unwrap_or_else(|| desired.div_ceil(2).clamp(3, 200))
}

/// Whether a deployment with these settings can ever replace its tasks: either a new
/// task fits under the maximum, or an old one may stop above the minimum.
pub fn can_progress(desired: u32, min_percent: u32, max_percent: u32) -> bool {
    desired == 0
        || max_total(desired, max_percent) > desired
        || min_healthy(desired, min_percent) < desired
}

/// A live task as the planner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanTask {
    /// Task id.
    pub id: String,
    /// Belongs to the primary (newest) deployment.
    pub primary: bool,
    /// Counts as healthy for the minimum (RUNNING and HEALTHY, or past `healthy_after`).
    pub healthy: bool,
}

/// What to do now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// New primary tasks to start.
    pub start: u32,
    /// Tasks to stop (scale in or replaced), in order.
    pub stop: Vec<String>,
    /// Neither a start nor a stop is allowed although the deployment is not done.
    pub stuck: bool,
}

/// One planning step for a service with `desired` tasks, given its live tasks (those
/// whose desired status is RUNNING). `may_start` is false while the primary deployment
/// failed or a restart backoff runs.
pub fn plan(
    desired: u32,
    min_percent: u32,
    max_percent: u32,
    tasks: &[PlanTask],
    may_start: bool,
) -> Plan {
    let mut plan = Plan::default();
    let mut primary: Vec<&PlanTask> = tasks.iter().filter(|t| t.primary).collect();
    let old: Vec<&PlanTask> = tasks.iter().filter(|t| !t.primary).collect();

    // Scale in: extra primary tasks go first, unhealthy ones before healthy ones.
    if primary.len() > desired as usize {
        primary.sort_by_key(|t| t.healthy);
        let extra = primary.len() - desired as usize;
        plan.stop
            .extend(primary.drain(..extra).map(|t| t.id.clone()));
    }

    // Start: fill the primary up to desired, within maximumPercent while old tasks remain.
    let live = primary.len() + old.len();
    let need = (desired as usize).saturating_sub(primary.len());
    let room = if old.is_empty() {
        need
    } else {
        (max_total(desired, max_percent) as usize).saturating_sub(live)
    };
    if may_start {
        plan.start = need.min(room) as u32;
    }

    // Stop old tasks: unhealthy ones freely, healthy ones while the minimum holds.
    let floor = min_healthy(desired, min_percent) as usize;
    let mut healthy = primary
        .iter()
        .chain(old.iter())
        .filter(|t| t.healthy)
        .count();
    let mut old = old;
    old.sort_by_key(|t| t.healthy);
    // Old tasks beyond what the new ones still need stay only to keep the minimum.
    for task in old {
        if !task.healthy {
            plan.stop.push(task.id.clone());
        } else if healthy > floor {
            plan.stop.push(task.id.clone());
            healthy -= 1;
        }
    }

    let pending_primary = primary.iter().any(|t| !t.healthy);
    let old_left = tasks.iter().filter(|t| !t.primary).count()
        > plan
            .stop
            .iter()
            .filter(|id| tasks.iter().any(|t| &t.id == *id && !t.primary))
            .count();
    plan.stuck = may_start
        && need > 0
        && plan.start == 0
        && plan.stop.is_empty()
        && !pending_primary
        && old_left;
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(id: &str, primary: bool, healthy: bool) -> PlanTask {
        PlanTask {
            id: id.into(),
            primary,
            healthy,
        }
    }

    #[test]
    fn rounding_follows_ecs() {
        // desired 3, 50 %: 1.5 rounds up to 2 for the minimum; 150 % of 3 = 4.5 -> 4.
        assert_eq!(min_healthy(3, 50), 2);
        assert_eq!(max_total(3, 150), 4);
        assert_eq!(min_healthy(1, 50), 1);
        assert_eq!(max_total(1, 150), 1);
    }

    #[test]
    fn breaker_threshold_is_clamped() {
        assert_eq!(breaker_threshold(1, None), 3);
        assert_eq!(breaker_threshold(10, None), 5);
        assert_eq!(breaker_threshold(1000, None), 200);
        assert_eq!(breaker_threshold(1, Some(1)), 1);
    }

    #[test]
    fn settings_that_can_never_complete_are_detected() {
        assert!(!can_progress(1, 50, 150));
        assert!(can_progress(1, 0, 100));
        assert!(can_progress(2, 100, 200));
        assert!(!can_progress(2, 100, 100));
    }

    #[test]
    fn rolling_update_of_two_within_100_200() {
        // Both new tasks start at once (max 4), no old one stops before a new one is healthy.
        let old = [t("a", false, true), t("b", false, true)];
        let p = plan(2, 100, 200, &old, true);
        assert_eq!((p.start, p.stop.clone()), (2, vec![]));

        let mut tasks = old.to_vec();
        tasks.extend([t("c", true, true), t("d", true, false)]);
        let p = plan(2, 100, 200, &tasks, true);
        assert_eq!(
            (p.start, p.stop.len()),
            (0, 1),
            "one old task may go: {p:?}"
        );

        tasks.pop();
        tasks.push(t("d", true, true));
        let p = plan(2, 100, 200, &tasks, true);
        assert_eq!(p.stop, vec!["a".to_string(), "b".to_string()]);
    }

    #[test]
    fn min_zero_stops_the_old_task_at_once() {
        let p = plan(1, 0, 200, &[t("a", false, true)], true);
        assert_eq!((p.start, p.stop), (1, vec!["a".to_string()]));
    }

    #[test]
    fn a_stuck_configuration_is_reported() {
        let p = plan(1, 50, 150, &[t("a", false, true)], true);
        assert!(p.stuck && p.start == 0 && p.stop.is_empty());
    }

    #[test]
    fn scale_in_prefers_unhealthy_tasks() {
        let tasks = [t("a", true, true), t("b", true, false), t("c", true, true)];
        let p = plan(2, 100, 200, &tasks, true);
        assert_eq!(p.stop, vec!["b".to_string()]);
        assert_eq!(plan(0, 100, 200, &tasks, true).stop.len(), 3);
    }

    #[test]
    fn a_failed_deployment_starts_nothing() {
        let p = plan(2, 100, 200, &[t("a", false, true)], false);
        assert_eq!(p.start, 0);
        assert!(p.stop.is_empty(), "the old task keeps serving");
    }
}
