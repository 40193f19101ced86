//! The dashboard in a real browser: headless Chromium driven over WebDriver
//! (chromedriver), against the real `albless up` on the example stack.
//!
//! It finds both tasks with their addresses, sends traffic through the gateway and sees
//! the per-task counts rise, scales to 3 from the page and sees the third task, stops a
//! task from the page and sees it replaced. Every page is saved as a screenshot under
//! `$CARGO_TARGET_TMPDIR/dashboard-screenshots/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (scripts/install-test-tools installs
//! them) and the `albless` and `albless-whoami` binaries built beside this test (as
//! `cargo test --workspace` does); without them the test fails saying what is missing.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use albless_testkit::{Up, http, workspace_root};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

/// A program on PATH or at one of Debian's paths.
fn tool(names: &[&str], package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in names {
        for dir in std::env::split_paths(&path).chain([PathBuf::from("/usr/bin")]) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "{} is not installed: install Debian's `{package}` package (scripts/install-test-tools does)",
        names[0]
    );
}

/// The `albless` binary of this build (the test runs from `target/<profile>/deps`).
fn albless() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let dir = exe.parent().and_then(Path::parent).expect("target folder");
    for bin in ["albless", "albless-whoami"] {
        assert!(
            dir.join(bin).is_file(),
            "{} is missing: build it first (`cargo build -p albless -p albless-whoami`, \
             or run the whole suite with `cargo test --workspace`)",
            dir.join(bin).display()
        );
    }
    dir.join("albless")
}

/// chromedriver on a free loopback port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Driver {
        let exe = tool(&["chromedriver"], "chromium-driver");
        // Probe a free port, then hand it to chromedriver (it cannot report one it
        // picked itself).
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(exe)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + WAIT;
        loop {
            let ready = http()
                .get(&format!("{url}/status"))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_json::<Value>().ok())
                .is_some_and(|v| v["value"]["ready"] == true);
            if ready {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not get ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        Driver { child, url }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` until it gives `Some`, up to `WAIT`.
async fn eventually<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> Result<T, String> {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = f().await {
            return Ok(v);
        }
        if Instant::now() > deadline {
            return Err(format!("timed out waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Runs `script` in the page and returns its value (`Null` on error).
async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.unwrap_or(Value::Null)
}

/// The task rows of the current page: `[[id, address, count], ...]`.
async fn task_rows(c: &Client, selector: &str) -> Vec<(String, String, u64)> {
    let script = format!(
        "return [...document.querySelectorAll('{selector}')].map(e => \
         [e.dataset.taskId, e.dataset.taskAddr, \
          Number(e.querySelector('[data-task-count]')?.textContent || 0)])"
    );
    let v = js(c, &script).await;
    v.as_array()
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    (
                        r[0].as_str().unwrap_or_default().to_string(),
                        r[1].as_str().unwrap_or_default().to_string(),
                        r[2].as_u64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn screenshot(c: &Client, name: &str) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    // Let the page finish its redraw (charts, diagram lines) before the picture.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("screenshot written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_tasks_and_traffic_and_scales_and_stops() {
    let albless = albless();
    let chromium = tool(&["chromium", "chromium-browser"], "chromium");
    let file = workspace_root().join("examples/hello/albless.toml");
    let up = Up::start(&albless, &file, &["--quiet-tasks"]);
    let healthy = up.wait_healthy(2, WAIT);
    assert_eq!(healthy.len(), 2, "two tasks healthy");

    let driver = Driver::start();
    let caps = json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,1000"],
        }
    });
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a WebDriver session with headless Chromium");

    let result = scenario(&client, &up, &healthy).await;
    if result.is_err() {
        screenshot(&client, "failure").await;
    }
    let _ = client.close().await;
    drop(driver);
    if let Err(e) = result {
        panic!("{e}");
    }
}

async fn scenario(
    c: &Client,
    up: &Up,
    healthy: &[albless_testkit::TaskLine],
) -> Result<(), String> {
    let base = up.control.trim_end_matches('/').to_string();
    let e = |e: fantoccini::error::CmdError| e.to_string();

    // Overview: both tasks in the diagram, each with the address albless printed.
    c.goto(&format!("{base}/")).await.map_err(e)?;
    let rows = eventually("two tasks in the diagram", async || {
        let rows = task_rows(c, ".diagram [data-task-id]").await;
        (rows.len() == 2 && rows.iter().all(|r| !r.1.is_empty())).then_some(rows)
    })
    .await?;
    for t in healthy {
        let row = rows
            .iter()
            .find(|r| r.0 == t.task_id)
            .ok_or(format!("task {} not on the page", t.task_id))?;
        assert_eq!(row.1, t.addr.to_string(), "address of task {}", t.task_id);
    }
    let before: u64 = rows.iter().map(|r| r.2).sum();

    // Traffic through the gateway: the per-task counts rise.
    let agent = http();
    for _ in 0..40 {
        let status = agent
            .get(&format!("{}/", up.gateway))
            .call()
            .map_err(|e| e.to_string())?
            .status();
        assert_eq!(status, 200);
    }
    let rows = eventually("the per-task counts to rise by 40", async || {
        let rows = task_rows(c, ".diagram [data-task-id]").await;
        let sum: u64 = rows.iter().map(|r| r.2).sum();
        (sum >= before + 40).then_some(rows)
    })
    .await?;
    assert!(
        rows.iter().all(|r| r.2 > 0),
        "each task got some of the requests: {rows:?}"
    );
    screenshot(c, "overview").await;

    c.goto(&format!("{base}/#/traffic")).await.map_err(e)?;
    eventually("the traffic table", async || {
        let rows = task_rows(c, "tr[data-task-id]").await;
        (rows.len() == 2 && rows.iter().map(|r| r.2).sum::<u64>() >= 40).then_some(())
    })
    .await?;
    screenshot(c, "traffic").await;

    // Scale to 3 from the service page.
    c.goto(&format!("{base}/#/services/backend"))
        .await
        .map_err(e)?;
    let input = eventually("the desired count field", async || {
        c.find(Locator::Css("#desired-count")).await.ok()
    })
    .await?;
    input.clear().await.map_err(e)?;
    input.send_keys("3").await.map_err(e)?;
    c.find(Locator::Css("form button[type=submit]"))
        .await
        .map_err(e)?
        .click()
        .await
        .map_err(e)?;
    let rows = eventually("a third task on the page", async || {
        let rows = task_rows(c, "tr[data-task-id]").await;
        let running = js(
            c,
            "return [...document.querySelectorAll('tr[data-task-id]')]\
             .filter(r => r.textContent.includes('RUNNING')).length",
        )
        .await;
        (rows.len() == 3 && running == 3).then_some(rows)
    })
    .await?;
    assert_eq!(
        up.wait_healthy(3, WAIT).len(),
        3,
        "albless reports a third task"
    );
    screenshot(c, "service").await;

    // Stop one from the page (the button asks for a second press) and see it replaced.
    let victim = rows[0].0.clone();
    let stop = c
        .find(Locator::Css(&format!("button[data-stop='{victim}']")))
        .await
        .map_err(e)?;
    stop.click().await.map_err(e)?;
    let confirm = eventually("the stop confirmation", async || {
        c.find(Locator::Css("button.armed")).await.ok()
    })
    .await?;
    confirm.click().await.map_err(e)?;
    let replaced = eventually("the stopped task replaced", async || {
        let rows = task_rows(c, "tr[data-task-id]").await;
        let fresh: Vec<String> = rows
            .iter()
            .map(|r| r.0.clone())
            .filter(|id| !healthy.iter().any(|t| &t.task_id == id))
            .collect();
        (rows.len() == 3 && rows.iter().all(|r| r.0 != victim) && fresh.len() == 2).then_some(fresh)
    })
    .await?;
    assert!(
        up.wait_line(WAIT, |l| {
            (l.starts_with(&format!("task backend/{victim} stopped"))).then_some(())
        })
        .is_some(),
        "albless reports the stop"
    );
    screenshot(c, "service-after-stop").await;

    // The task page, with its log.
    let task = &replaced[0];
    c.goto(&format!("{base}/#/tasks/{task}")).await.map_err(e)?;
    eventually("the task's log", async || {
        let text = js(c, "return document.getElementById('task-log')?.textContent").await;
        text.as_str()
            .is_some_and(|t| t.contains("listening"))
            .then_some(())
    })
    .await?;
    screenshot(c, "task").await;

    // The registry, as Cloud Map shows it: three instances.
    c.goto(&format!("{base}/#/registry")).await.map_err(e)?;
    eventually("three instances in the registry", async || {
        let n = js(
            c,
            "return document.querySelectorAll('[data-instance]').length",
        )
        .await;
        (n == 3).then_some(())
    })
    .await?;
    screenshot(c, "registry").await;

    // A phone's width.
    c.set_window_size(390, 844).await.map_err(e)?;
    c.goto(&format!("{base}/#/")).await.map_err(e)?;
    eventually("the overview at phone width", async || {
        let rows = task_rows(c, ".diagram [data-task-id]").await;
        (rows.len() == 3).then_some(())
    })
    .await?;
    screenshot(c, "overview-phone").await;
    Ok(())
}
