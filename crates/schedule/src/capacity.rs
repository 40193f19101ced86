//! Scheduled scaling of an ECS service's desired count, as Application Auto Scaling
//! applies scheduled actions (aws-behavior.md §4.7): each action sets the scalable
//! target's min and/or max capacity; then a desired count below the new min is raised
//! to it, one above the new max is lowered to it, and any other is left alone.
//!
//! [`simulate`] walks an interval on that rule and returns how long each task count
//! held, from which task-hours (what Fargate and public IPv4 bill) and running hours
//! follow.
//!
//! Known limits: no target tracking or step scaling between actions (the count only
//! moves when an action fires); actions that fire at the same instant apply in the
//! order given; the state at the start of the interval is the desired count with each
//! action's last fire before the interval applied, oldest first.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::Schedule;

/// One scheduled action of a scalable target (`PutScheduledAction`).
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledAction {
    /// The action's name (unique per target on AWS); used in [`CapacityChange`].
    pub name: String,
    /// When it fires.
    pub schedule: Schedule,
    /// The zone `cron` and `at` are read in (AWS default: UTC).
    pub timezone: Tz,
    /// No fire before this instant; a `rate` counts from it.
    pub start_time: Option<DateTime<Utc>>,
    /// No fire after this instant.
    pub end_time: Option<DateTime<Utc>>,
    /// The target's new minimum capacity, if the action sets one.
    pub min_capacity: Option<u32>,
    /// The target's new maximum capacity, if the action sets one.
    pub max_capacity: Option<u32>,
}

impl ScheduledAction {
    /// A `cron`/`at`/`rate` action in `timezone` with no start or end time.
    pub fn new(
        name: impl Into<String>,
        schedule: Schedule,
        timezone: Tz,
        min_capacity: Option<u32>,
        max_capacity: Option<u32>,
    ) -> Self {
        ScheduledAction {
            name: name.into(),
            schedule,
            timezone,
            start_time: None,
            end_time: None,
            min_capacity,
            max_capacity,
        }
    }

    /// The first fire at or after `t` (`inclusive`) or strictly after it, within the
    /// action's start and end times; a `rate` without a start time counts from
    /// `rate_anchor`.
    pub fn next_fire(
        &self,
        t: DateTime<Utc>,
        inclusive: bool,
        rate_anchor: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let anchor = self.start_time.unwrap_or(rate_anchor);
        let (t, inclusive) = match self.start_time {
            Some(start) if start > t => (start, true),
            _ => (t, inclusive),
        };
        let fire = self
            .schedule
            .next_from(self.timezone, Some(anchor), t, inclusive)?;
        self.end_time.is_none_or(|end| fire <= end).then_some(fire)
    }

    /// The last fire strictly before `t`, within the action's start and end times; a
    /// `rate` without a start time has no past.
    pub fn prev_fire(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let before = match self.end_time {
            // `end` itself may fire: search strictly before the instant just after it.
            Some(end) if end < t => end + chrono::TimeDelta::milliseconds(1),
            _ => t,
        };
        let fire = self
            .schedule
            .prev_before(self.timezone, self.start_time, before)?;
        self.start_time
            .is_none_or(|start| fire >= start)
            .then_some(fire)
    }
}

/// The scalable target's state: its bounds and the service's desired count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// Minimum capacity.
    pub min: u32,
    /// Maximum capacity.
    pub max: u32,
    /// Desired count.
    pub desired: u32,
}

impl Target {
    /// A target holding `desired` tasks with bounds 0..=u32::MAX.
    pub fn new(desired: u32) -> Self {
        Target {
            min: 0,
            max: u32::MAX,
            desired,
        }
    }

    /// Applies one action (aws-behavior.md §4.7): set the bounds it gives, then bring
    /// the desired count inside them. Should the new bounds cross (a new min above the
    /// old max, or the reverse), the bound the action gave wins.
    pub fn apply(&mut self, action: &ScheduledAction) {
        if let Some(min) = action.min_capacity {
            self.min = min;
            self.max = self.max.max(min);
        }
        if let Some(max) = action.max_capacity {
            self.max = max;
            if action.min_capacity.is_none() {
                self.min = self.min.min(max);
            }
        }
        if self.desired < self.min {
            self.desired = self.min;
        } else if self.desired > self.max {
            self.desired = self.max;
        }
    }
}

/// A change of the desired count made by an action during the interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapacityChange {
    /// When the action fired.
    pub at: DateTime<Utc>,
    /// The action's name.
    pub action: String,
    /// The desired count after it.
    pub desired: u32,
}

/// How the desired count moved over an interval.
#[derive(Debug, Clone, PartialEq)]
pub struct CapacityProfile {
    /// Start of the interval.
    pub from: DateTime<Utc>,
    /// End of the interval (exclusive).
    pub to: DateTime<Utc>,
    /// Hours spent at each desired count (counts never held are absent).
    pub hours_at: BTreeMap<u32, f64>,
    /// Every change of the desired count, in time order.
    pub changes: Vec<CapacityChange>,
}

impl CapacityProfile {
    /// A profile holding `count` tasks for `hours` hours, no schedule involved.
    pub fn constant(count: u32, hours: f64) -> Self {
        let from = DateTime::<Utc>::UNIX_EPOCH;
        let to = from + chrono::TimeDelta::milliseconds((hours * 3_600_000.0).round() as i64);
        CapacityProfile {
            from,
            to,
            hours_at: BTreeMap::from([(count, hours)]),
            changes: vec![],
        }
    }

    /// Σ count × hours: the task-hours Fargate bills.
    pub fn task_hours(&self) -> f64 {
        self.hours_at.iter().map(|(n, h)| f64::from(*n) * h).sum()
    }

    /// Hours with at least one task running.
    pub fn running_hours(&self) -> f64 {
        self.hours_at
            .iter()
            .filter(|(n, _)| **n > 0)
            .map(|(_, h)| h)
            .sum()
    }

    /// The length of the interval, hours.
    pub fn total_hours(&self) -> f64 {
        self.hours_at.values().sum()
    }

    /// The most tasks held at once.
    pub fn peak(&self) -> u32 {
        self.hours_at
            .iter()
            .filter(|(_, h)| **h > 0.0)
            .map(|(n, _)| *n)
            .max()
            .unwrap_or(0)
    }
}

/// Simulates the desired count from `from` to `to` under `actions`, starting from
/// `desired` with each action's last fire before `from` applied (oldest first). A
/// `rate` action without a start time counts from `from`.
pub fn simulate(
    actions: &[ScheduledAction],
    desired: u32,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> CapacityProfile {
    let mut target = Target::new(desired);

    // The state at `from`: replay each action's most recent fire, in time order.
    let mut past: Vec<(DateTime<Utc>, usize)> = actions
        .iter()
        .enumerate()
        .filter_map(|(i, a)| a.prev_fire(from).map(|t| (t, i)))
        .collect();
    past.sort();
    for (_, i) in past {
        target.apply(&actions[i]);
    }

    let mut hours_at: BTreeMap<u32, f64> = BTreeMap::new();
    let mut changes = Vec::new();
    let mut next: Vec<Option<DateTime<Utc>>> = actions
        .iter()
        .map(|a| a.next_fire(from, true, from).filter(|t| *t < to))
        .collect();
    let mut now = from;
    // Each turn consumes one fire, and every fire lies strictly after the one before.
    while let Some((i, at)) = next
        .iter()
        .enumerate()
        .filter_map(|(i, t)| t.map(|t| (i, t)))
        .min_by_key(|(i, t)| (*t, *i))
    {
        *hours_at.entry(target.desired).or_default() += hours(now, at);
        now = at;
        let before = target.desired;
        target.apply(&actions[i]);
        if target.desired != before {
            changes.push(CapacityChange {
                at,
                action: actions[i].name.clone(),
                desired: target.desired,
            });
        }
        next[i] = actions[i].next_fire(at, false, from).filter(|t| *t < to);
    }
    *hours_at.entry(target.desired).or_default() += hours(now, to);
    hours_at.retain(|_, h| *h > 0.0);
    CapacityProfile {
        from,
        to,
        hours_at,
        changes,
    }
}

fn hours(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds().max(0) as f64 / 3_600_000.0
}
