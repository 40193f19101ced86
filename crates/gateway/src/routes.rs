//! The compiled route table: which route of the HTTP API a request selects.
//!
//! Precedence follows HTTP API route selection (aws-behavior.md §1.2, §6.12):
//! 1. a full match of method and path, where static and `{param}` routes both count;
//! 2. a match through a greedy `{proxy+}` variable;
//! 3. the `$default` route.
//!
//! Within a tier, a literal segment beats a `{param}`, which beats a greedy variable, at
//! the first depth where two matching routes differ (the AWS docs show this by example),
//! and on the same path an explicit method beats `ANY` ("ANY matches every method not
//! explicitly defined for that resource path"). The table is sorted by that order once,
//! so matching is a scan for the first route that fits, with no allocation unless the
//! route has path parameters.
//!
//! Known limits: methods are matched exactly (HEAD does not select a GET route); path
//! segments are compared and returned as sent, not URL-decoded; an empty segment (as in
//! `/pets/`) matches nothing but the inside of a greedy variable (route keys have no
//! empty segments: the spec parser rejects them).

use std::cmp::Ordering;
use std::sync::Arc;
use std::time::Duration;

use albless_spec::{Route, RouteKey, Segment};
use http::Method;

use crate::mapping::Mappings;
use crate::throttle::Bucket;

/// Routes compiled for matching, most specific first.
#[derive(Debug)]
pub(crate) struct RouteTable {
    /// Path routes in precedence order (see the module docs).
    routes: Vec<CompiledRoute>,
    /// The `$default` route, if the API has one.
    default: Option<RouteTarget>,
}

/// What a matched route leads to, with everything the route configures.
#[derive(Debug)]
pub(crate) struct RouteTarget {
    /// The route key as HTTP API prints it (`GET /pets/{id}`, `$default`): the
    /// `$context.routeKey` of the request.
    pub(crate) key: Arc<str>,
    /// The Cloud Map service the route's integration targets.
    pub(crate) service: String,
    /// The route's integration timeout.
    pub(crate) timeout: Duration,
    /// The route's token bucket, if it is throttled.
    pub(crate) bucket: Option<Bucket>,
    /// The route's parameter mappings.
    pub(crate) mappings: Mappings,
    /// The route's series in the gateway's metrics (its index in the configuration).
    pub(crate) metrics: usize,
}

impl RouteTarget {
    /// The bare target of `route`: no timeout of its own (30 s), no throttle, no mappings.
    #[cfg(test)]
    pub(crate) fn plain(route: &Route) -> RouteTarget {
        RouteTarget {
            key: route.key.to_string().into(),
            service: route.service.clone(),
            timeout: Duration::from_secs(30),
            bucket: None,
            mappings: Mappings::default(),
            metrics: 0,
        }
    }
}

/// The route a request selected and the path parameters it bound.
#[derive(Debug)]
pub(crate) struct RouteMatch<'t, 'p> {
    /// The selected route.
    pub(crate) target: &'t RouteTarget,
    /// Path parameters by name, in path order; a greedy variable binds the rest of the
    /// path without its leading slash (`GET /pets/{proxy+}` on `/pets/cat/1` binds
    /// `proxy` to `cat/1`).
    pub(crate) params: Vec<(&'t str, &'p str)>,
}

#[derive(Debug)]
struct CompiledRoute {
    /// `None` is `ANY`.
    method: Option<Method>,
    segments: Vec<Segment>,
    /// The last segment is greedy.
    greedy: bool,
    /// How many segments bind a parameter, to size the match's parameter list.
    params: usize,
    target: RouteTarget,
}

impl RouteTable {
    /// Compiles `routes`, each with the target `make_target` builds for it. A method
    /// that is not a valid HTTP method token leaves its route out (logged); the spec
    /// parser rejects such keys before they get here.
    pub(crate) fn new(routes: &[Route], make_target: impl Fn(&Route) -> RouteTarget) -> RouteTable {
        let mut compiled = Vec::with_capacity(routes.len());
        let mut default = None;
        for route in routes {
            let target = make_target(route);
            match &route.key {
                // The first `$default` wins; the spec parser rejects a second one.
                RouteKey::Default => {
                    default.get_or_insert(target);
                }
                RouteKey::Path { method, segments } => {
                    let method = match method.as_deref().map(str::as_bytes) {
                        None => None,
                        Some(m) => match Method::from_bytes(m) {
                            Ok(m) => Some(m),
                            Err(_) => {
                                let key = &target.key;
                                tracing::warn!(route_key = %key, "route method invalid, left out");
                                continue;
                            }
                        },
                    };
                    compiled.push(CompiledRoute {
                        method,
                        greedy: matches!(segments.last(), Some(Segment::Greedy(_))),
                        params: segments
                            .iter()
                            .filter(|s| !matches!(s, Segment::Literal(_)))
                            .count(),
                        segments: segments.clone(),
                        target,
                    });
                }
            }
        }

        // A stable sort: duplicate keys (which the spec parser rejects) keep file order.
        compiled.sort_by(precedence);
        RouteTable {
            routes: compiled,
            default,
        }
    }

    /// The route that `method` and `path` select, or `None` (HTTP API answers 404).
    /// `path` is the request path as sent, starting with `/`, without the query.
    pub(crate) fn find<'t, 'p>(
        &'t self,
        method: &Method,
        path: &'p str,
    ) -> Option<RouteMatch<'t, 'p>> {
        let rest = path.strip_prefix('/')?;
        for route in &self.routes {
            if route.method.as_ref().is_some_and(|m| m != method) {
                continue;
            }
            if let Some(params) = route.match_path(rest) {
                return Some(RouteMatch {
                    target: &route.target,
                    params,
                });
            }
        }
        self.default.as_ref().map(|target| RouteMatch {
            target,
            params: Vec::new(),
        })
    }
}

impl CompiledRoute {
    /// Binds this route's segments to `rest` (the path without its leading `/`).
    fn match_path<'t, 'p>(&'t self, rest: &'p str) -> Option<Vec<(&'t str, &'p str)>> {
        let mut params = Vec::with_capacity(self.params);
        // The root path `/` has no segments at all, not one empty one.
        let mut parts = (!rest.is_empty())
            .then(|| rest.split('/'))
            .into_iter()
            .flatten();
        let mut consumed = 0;
        for segment in &self.segments {
            if let Segment::Greedy(name) = segment {
                // `{proxy+}` needs at least one segment: whether `ANY /{proxy+}` matches
                // `/` is undocumented, and §1.2/§6.12 suggest it does not [INF].
                let tail = rest.get(consumed..).filter(|t| !t.is_empty())?;
                params.push((name.as_str(), tail));
                return Some(params);
            }
            let part = parts.next()?;
            consumed += part.len() + 1;
            match segment {
                Segment::Literal(lit) if lit == part => {}
                Segment::Param(name) if !part.is_empty() => params.push((name.as_str(), part)),
                _ => return None,
            }
        }
        // A full match uses up the whole path.
        parts.next().is_none().then_some(params)
    }
}

/// Orders routes most specific first: full matches before greedy ones, then segment by
/// segment literal before `{param}` before greedy, then an explicit method before `ANY`.
fn precedence(a: &CompiledRoute, b: &CompiledRoute) -> Ordering {
    fn rank(s: &Segment) -> u8 {
        match s {
            Segment::Literal(_) => 0,
            Segment::Param(_) => 1,
            Segment::Greedy(_) => 2,
        }
    }
    a.greedy
        .cmp(&b.greedy)
        .then_with(|| a.segments.iter().map(rank).cmp(b.segments.iter().map(rank)))
        .then_with(|| a.method.is_none().cmp(&b.method.is_none()))
}

#[cfg(test)]
mod tests;
