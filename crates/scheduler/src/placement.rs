//! Which capacity provider a new task of a service goes to: `base` tasks on the item
//! that sets one first, then the rest split by `weight` (aws-behavior.md §4.6,
//! ECS-SPOT). Spot capacity can be withheld, as when AWS has none to give.
//!
//! Known limit: placement looks at the service's live tasks only; ECS also balances
//! across availability zones, and there is only one zone locally.

use albless_spec::{CapacityItem, CapacityProvider};

/// The provider for the next task, given how many live tasks each provider holds
/// (`counts[i]` for `strategy[i]`). `None` when no item can take it (all weights 0
/// past the bases, or only Spot left while Spot is withheld).
pub fn choose(strategy: &[CapacityItem], counts: &[u32], spot_withheld: bool) -> Option<usize> {
    let usable =
        |i: usize| !(spot_withheld && strategy[i].provider == CapacityProvider::FargateSpot);

    // Bases first (only one item may set one).
    if let Some(i) = (0..strategy.len()).find(|&i| usable(i) && counts[i] < strategy[i].base) {
        return Some(i);
    }

    // Then the item furthest below its weight share: the smallest (tasks beyond its
    // base) / weight, compared by cross-multiplying; ties go to the earlier item.
    let beyond = |i: usize| counts[i].saturating_sub(strategy[i].base) as u64;
    let mut best: Option<usize> = None;
    for i in (0..strategy.len()).filter(|&i| usable(i) && strategy[i].weight > 0) {
        best = match best {
            Some(b)
                if beyond(b) * strategy[i].weight as u64
                    <= beyond(i) * strategy[b].weight as u64 =>
            {
                Some(b)
            }
            _ => Some(i),
        };
    }
    // A lone item with weight 0 is still used (§4.6: "weight 0 never used unless alone").
    best.or_else(|| (strategy.len() == 1 && usable(0)).then_some(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(provider: CapacityProvider, base: u32, weight: u32) -> CapacityItem {
        CapacityItem {
            provider,
            base,
            weight,
        }
    }

    /// Places `n` tasks one after the other and counts them per item.
    fn place(strategy: &[CapacityItem], n: usize) -> Vec<u32> {
        let mut counts = vec![0; strategy.len()];
        for _ in 0..n {
            let i = choose(strategy, &counts, false).expect("placed");
            counts[i] += 1;
        }
        counts
    }

    #[test]
    fn base_then_weights() {
        // The classic mix: 1 on-demand task as a base, then 1:3 on-demand to Spot.
        let s = [
            item(CapacityProvider::Fargate, 1, 1),
            item(CapacityProvider::FargateSpot, 0, 3),
        ];
        assert_eq!(place(&s, 1), vec![1, 0]);
        assert_eq!(place(&s, 5), vec![2, 3]);
        assert_eq!(place(&s, 9), vec![3, 6]);
    }

    #[test]
    fn zero_weight_is_never_used_unless_alone() {
        let s = [
            item(CapacityProvider::Fargate, 0, 1),
            item(CapacityProvider::FargateSpot, 0, 0),
        ];
        assert_eq!(place(&s, 4), vec![4, 0]);
        assert_eq!(
            place(&[item(CapacityProvider::FargateSpot, 0, 0)], 2),
            vec![2]
        );
    }

    #[test]
    fn withheld_spot_capacity_places_nothing_on_spot() {
        let spot_only = [item(CapacityProvider::FargateSpot, 0, 1)];
        assert_eq!(choose(&spot_only, &[0], true), None);
        let mixed = [
            item(CapacityProvider::Fargate, 0, 1),
            item(CapacityProvider::FargateSpot, 0, 1),
        ];
        assert_eq!(choose(&mixed, &[5, 0], true), Some(0));
    }
}
