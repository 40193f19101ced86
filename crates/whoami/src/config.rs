//! Settings of one whoami process, read once at start from the command line and from the
//! environment that albless's scheduler gives each task.
//!
//! The environment is passed in as a lookup function so tests need not change the process
//! environment. Values that are not valid UTF-8 count as absent.
//!
//! Known limits: the hostname is read once at start; `ALBLESS_TASK_ID` is shown as given, not
//! checked against the 32-hex-digit shape the scheduler uses.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use crate::answer::Identity;

/// Port used when neither `--listen` nor `PORT` says otherwise (the example service's port).
const DEFAULT_PORT: u16 = 8080;

/// Where `hostname` is read from first; `HOSTNAME` is the fallback.
const HOSTNAME_FILE: &str = "/proc/sys/kernel/hostname";

/// Everything the server needs, decided before it binds.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Address to bind: `--listen`, else `HOST`:`PORT`, else `0.0.0.0:8080`.
    pub(crate) listen: SocketAddr,
    /// Who this task is, shown in every answer.
    pub(crate) identity: Identity,
    /// `WHOAMI_UNHEALTHY_FILE`: while this file exists, `/health` answers 503.
    pub(crate) unhealthy_file: Option<PathBuf>,
    /// `WHOAMI_LOG=1`: one stderr line per request.
    pub(crate) log_requests: bool,
    /// `ECS_CONTAINER_METADATA_URI_V4`: base of the task metadata endpoint, if set.
    pub(crate) metadata_uri: Option<String>,
}

/// A setting that cannot be used; the process exits with status 2.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    /// `HOST` is not an IP address.
    #[error("HOST={value:?} is not an IP address")]
    BadHost {
        /// The value as found in the environment.
        value: String,
    },
    /// `PORT` is not a number from 0 to 65535.
    #[error("PORT={value:?} is not a port number (0-65535)")]
    BadPort {
        /// The value as found in the environment.
        value: String,
    },
}

impl Config {
    /// Builds the settings from `--listen` (if given) and the variables `env` returns.
    ///
    /// `--listen` wins over `HOST` and `PORT`, which are then not even checked. Empty values
    /// count as absent, so `HOST=` means the default `0.0.0.0`.
    pub(crate) fn from_env(
        listen: Option<SocketAddr>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let env = |name: &str| env(name).filter(|value| !value.is_empty());

        let listen = match listen {
            Some(addr) => addr,
            None => {
                let ip = match env("HOST") {
                    Some(value) => value.parse().map_err(|_| ConfigError::BadHost { value })?,
                    None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                };
                let port = match env("PORT") {
                    Some(value) => value.parse().map_err(|_| ConfigError::BadPort { value })?,
                    None => DEFAULT_PORT,
                };
                SocketAddr::new(ip, port)
            }
        };

        let proc_hostname = std::fs::read_to_string(HOSTNAME_FILE).ok();
        let identity = Identity {
            task_id: env("ALBLESS_TASK_ID"),
            task_arn: env("ALBLESS_TASK_ARN"),
            service: env("ALBLESS_SERVICE").unwrap_or_else(|| "unknown".to_owned()),
            hostname: pick_hostname(proc_hostname, env("HOSTNAME")),
            pid: std::process::id(),
            greeting: env("GREETING"),
        };

        Ok(Self {
            listen,
            identity,
            unhealthy_file: env("WHOAMI_UNHEALTHY_FILE").map(PathBuf::from),
            log_requests: env("WHOAMI_LOG").is_some_and(|value| value == "1"),
            metadata_uri: env("ECS_CONTAINER_METADATA_URI_V4"),
        })
    }
}

/// The kernel's hostname if readable and not blank, else `HOSTNAME`, else `"unknown"`.
fn pick_hostname(from_proc: Option<String>, from_env: Option<String>) -> String {
    [from_proc, from_env]
        .into_iter()
        .flatten()
        .map(|name| name.trim().to_owned())
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn defaults_when_the_environment_is_empty() {
        let config = Config::from_env(None, env_of(&[])).unwrap();
        assert_eq!(config.listen, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(config.identity.task_id, None);
        assert_eq!(config.identity.task_arn, None);
        assert_eq!(config.identity.service, "unknown");
        assert_eq!(config.identity.greeting, None);
        assert_eq!(config.unhealthy_file, None);
        assert!(!config.log_requests);
        assert_eq!(config.metadata_uri, None);
    }

    #[test]
    fn host_and_port_from_the_environment() {
        let env = env_of(&[
            ("HOST", "127.42.0.7"),
            ("PORT", "9000"),
            ("WHOAMI_LOG", "1"),
        ]);
        let config = Config::from_env(None, env).unwrap();
        assert_eq!(config.listen, "127.42.0.7:9000".parse().unwrap());
        assert!(config.log_requests);

        let env = env_of(&[("HOST", "::1"), ("PORT", "0")]);
        let config = Config::from_env(None, env).unwrap();
        assert_eq!(config.listen, "[::1]:0".parse().unwrap());
    }

    #[test]
    fn listen_flag_wins_and_skips_the_checks() {
        let env = env_of(&[("HOST", "not-an-ip"), ("PORT", "99999")]);
        let listen = "127.0.0.3:0".parse().unwrap();
        let config = Config::from_env(Some(listen), env).unwrap();
        assert_eq!(config.listen, listen);
    }

    #[test]
    fn bad_host_or_port_is_an_error() {
        let err = Config::from_env(None, env_of(&[("HOST", "localhost")])).unwrap_err();
        assert!(matches!(err, ConfigError::BadHost { .. }), "{err}");
        let err = Config::from_env(None, env_of(&[("PORT", "65536")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"PORT="65536" is not a port number (0-65535)"#
        );
    }

    #[test]
    fn empty_values_count_as_absent() {
        let env = env_of(&[("HOST", ""), ("ALBLESS_SERVICE", ""), ("GREETING", "")]);
        let config = Config::from_env(None, env).unwrap();
        assert_eq!(config.listen.ip(), IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(config.identity.service, "unknown");
        assert_eq!(config.identity.greeting, None);
    }

    #[test]
    fn hostname_falls_back_from_proc_to_env_to_unknown() {
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(pick_hostname(some("box\n"), some("other")), "box");
        assert_eq!(pick_hostname(some(" \n"), some("other")), "other");
        assert_eq!(pick_hostname(None, some("other")), "other");
        assert_eq!(pick_hostname(None, None), "unknown");
    }
}
