//! The HTML view: structure tests on the generated text (every operation shown and escaped, the blocked
//! operation highlighted, faults shaded, big histories capped) and a headless Chromium test that the page
//! renders, its script runs, and a screenshot can be taken (left in `target/tmp/render/` to look at).
//!
//! Chromium is required: the browser test fails when it is missing unless `RAFTKV_SKIP_BROWSER=1`.

use checker::history::{Event, EventType, Function, History};
use checker::models::{Kv, Register};
use checker::render::{self, escape, fault_intervals, latency_points, Outcome};
use checker::synth::{self, SynthConfig};
use checker::{check_history, CheckOptions, CheckResult, Verdict};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Key "x<y": a stale read after a completed write (Illegal). Key "b": fine, with an indeterminate
/// append carrying markup. A partition fault spans the middle, and a kill is an instant.
const ILLEGAL_KV: &str = r#"
{"type":"invoke","process":0,"f":"write","key":"x<y","value":1,"time":1000}
{"type":"invoke","process":1,"f":"append","key":"b","value":"<b>&'x'","time":1500}
{"type":"ok","process":0,"f":"write","key":"x<y","value":1,"time":2000}
{"type":"invoke","process":"nemesis","f":"start-partition","value":"isolate n1","time":2100}
{"type":"info","process":"nemesis","f":"start-partition","value":"isolate n1","time":2200}
{"type":"invoke","process":2,"f":"read","key":"x<y","value":null,"time":3000}
{"type":"info","process":1,"f":"append","key":"b","value":"<b>&'x'","time":3100}
{"type":"ok","process":2,"f":"read","key":"x<y","value":1,"time":4000}
{"type":"invoke","process":0,"f":"write","key":"x<y","value":2,"time":4500}
{"type":"invoke","process":2,"f":"read","key":"x<y","value":null,"time":5000}
{"type":"ok","process":0,"f":"write","key":"x<y","value":2,"time":5500}
{"type":"ok","process":2,"f":"read","key":"x<y","value":2,"time":6000}
{"type":"invoke","process":"nemesis","f":"stop-partition","value":null,"time":6100}
{"type":"info","process":"nemesis","f":"stop-partition","value":null,"time":6200}
{"type":"invoke","process":3,"f":"read","key":"x<y","value":null,"time":7000}
{"type":"ok","process":3,"f":"read","key":"x<y","value":1,"time":8000}
{"type":"invoke","process":"nemesis","f":"kill","value":{"node":2},"time":8100}
{"type":"invoke","process":0,"f":"read","key":"b","value":null,"time":9000}
{"type":"ok","process":0,"f":"read","key":"b","value":"<b>&'x'","time":9500}
"#;

fn illegal() -> (History, CheckResult) {
    let history = History::from_jsonl_str(ILLEGAL_KV).expect("well-formed");
    let options = CheckOptions {
        explain: true,
        ..CheckOptions::default()
    };
    let result = check_history(&Kv, &history, &options).expect("decodes");
    assert_eq!(result.verdict, Verdict::Illegal);
    (history, result)
}

#[test]
fn every_operation_is_shown_escaped() {
    let (history, result) = illegal();
    let page = render::html(&history, &result, "stale <read> & co");
    assert!(page.contains("<title>stale &lt;read&gt; &amp; co</title>"));
    for op in &result.ops {
        assert!(
            page.contains(&escape(&op.description)),
            "missing {:?}",
            op.description
        );
    }
    // The markup in values and keys never reaches the page unescaped.
    assert!(!page.contains("<b>"), "unescaped value markup");
    assert!(!page.contains("x<y"), "unescaped key");
    assert!(page.contains("x&lt;y"));
}

#[test]
fn blocked_operation_is_highlighted_and_steps_are_numbered() {
    let (history, result) = illegal();
    let page = render::html(&history, &result, "t");
    let illegal = result
        .partitions_with(Verdict::Illegal)
        .next()
        .expect("one Illegal partition");
    let partial = illegal
        .partials
        .first()
        .expect("explain mode gives partial linearizations");
    let blocked = &result.ops[partial.blocked_op];
    assert!(
        blocked.description.contains("read() -> 1"),
        "unexpected blocked op {}",
        blocked.description
    );
    let marker = format!(r#"<g class="blocked-op" data-op="{}""#, blocked.id);
    assert!(page.contains(&marker), "blocked op not highlighted");
    assert!(page.contains(r#"<rect class="blocked""#));
    assert!(
        page.contains(r#"<tr class="blocked">"#),
        "blocked op missing from the steps table"
    );
    for number in 1..=partial.steps.len() {
        assert!(
            page.contains(&format!(r#"data-step="{number}""#)),
            "step {number} has no badge"
        );
    }
    // The state after each step is shown in the table.
    let last_state = &partial.steps.last().expect("at least one step").state_after;
    assert!(page.contains(&format!(r#"<td class="mono">{}</td>"#, escape(last_state))));
    // The Ok partition is drawn without overlays.
    assert!(page.contains(r#"data-verdict="ok""#));
}

#[test]
fn nemesis_intervals_are_shaded_with_labels() {
    let (history, result) = illegal();
    let faults = fault_intervals(&history);
    assert_eq!(faults.len(), 2, "{faults:?}");
    assert_eq!((faults[0].start_ns, faults[0].end_ns), (2100, 6200));
    assert!(
        faults[0].label.starts_with("partition"),
        "{}",
        faults[0].label
    );
    assert_eq!(faults[1].label, r#"kill {"node":2}"#);
    let page = render::html(&history, &result, "t");
    assert!(page.contains(r#"<g class="nemesis""#));
    assert!(
        page.contains("partition &quot;isolate n1&quot;"),
        "fault label missing"
    );
    let timeline = render::timeline_svg(&history, &result, 0);
    assert!(timeline.starts_with("<svg") && timeline.ends_with("</svg>"));
    assert!(render::timeline_svg(&history, &result, 99).is_empty());
}

#[test]
fn big_partitions_are_capped_and_say_so() {
    let mut config = SynthConfig::kv(7, 1_000, 0, 5);
    config.mix = synth::Mix::REGISTER;
    let history = synth::generate(&config);
    let result = check_history(&Register, &history, &CheckOptions::default()).expect("decodes");
    assert_eq!(result.verdict, Verdict::Ok);
    let page = render::html(&history, &result, "big");
    let drawn = page.matches(r#"<g class="op "#).count();
    assert_eq!(drawn, render::OPS_DRAWN_MAX);
    assert!(page.contains(&format!(
        "Showing {} of {} operations",
        render::OPS_DRAWN_MAX,
        result.ops.len()
    )));
    assert!(page.len() < 2_000_000, "page too big: {} bytes", page.len());
}

#[test]
fn big_illegal_partition_is_drawn_around_the_failure() {
    let mut config = SynthConfig::kv(11, 1_000, 0, 5);
    config.mix = synth::Mix::REGISTER;
    let mut events = synth::generate(&config).events().to_vec();
    let end = events.last().map_or(0, |e| e.time);
    // A read at the end that sees a value nobody wrote.
    let read = |kind, value, time| Event::client(0, kind, 999, Function::Read, value, time);
    events.push(read(EventType::Invoke, serde_json::Value::Null, end + 1));
    events.push(read(EventType::Ok, serde_json::json!(-7), end + 2));
    let history = History::new(events).expect("well-formed");
    let options = CheckOptions {
        explain: true,
        ..CheckOptions::default()
    };
    let result = check_history(&Register, &history, &options).expect("decodes");
    assert_eq!(result.verdict, Verdict::Illegal);
    let page = render::html(&history, &result, "big illegal");
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("render");
    std::fs::create_dir_all(&out_dir).expect("create output dir");
    std::fs::write(out_dir.join("big-illegal.html"), &page).expect("write page");
    assert!(page.contains("invoked around the operation that could not be linearized"));
    assert_eq!(
        page.matches(r#"<g class="op "#).count(),
        render::OPS_DRAWN_MAX
    );
    let blocked = result.partitions[0].partials[0].blocked_op;
    assert!(
        page.contains(&format!(r#"<g class="blocked-op" data-op="{blocked}""#)),
        "blocked op not drawn"
    );
}

#[test]
fn plots_draw_every_point_and_shade_faults() {
    let (history, _) = illegal();
    let points = latency_points(&history);
    assert_eq!(points.len(), 7, "completed client operations");
    assert_eq!(points.iter().filter(|p| p.2 == Outcome::Info).count(), 1);
    let faults = fault_intervals(&history);
    let latency = render::latency_plot_svg(&points, &faults);
    // One dot per point plus three legend dots.
    assert_eq!(latency.matches("<circle").count(), points.len() + 3);
    assert!(latency.contains(r#"<g class="fault">"#) && latency.contains("kill"));
    let throughput = render::throughput_plot_svg(&points, &faults);
    assert_eq!(
        throughput.matches("<polyline").count(),
        2,
        "ok and info series"
    );
    assert!(throughput.contains(r#"<g class="fault">"#));
    // A bigger synthetic run with faults, kept as an artifact to look at.
    let big = synth::generate(&SynthConfig::kv(3, 3_000, 4, 8));
    let mut big_points = latency_points(&big);
    for (n, point) in big_points.iter_mut().enumerate() {
        point.1 = point.1 * (1 + (n as u64 % 7) * (n as u64 % 5)) + 50_000 * ((n / 400) as u64 % 3);
    }
    let span = big_points.last().map_or(1, |p| p.0);
    let big_faults = [
        render::FaultInterval {
            start_ns: span / 5,
            end_ns: span / 3,
            label: "partition [n1] [n2 n3]".into(),
        },
        render::FaultInterval {
            start_ns: span / 2,
            end_ns: span / 2 + span / 10,
            label: "kill n2".into(),
        },
    ];
    let mut page = render::Page::new("plots");
    page.section(
        "latency",
        "Latency",
        &render::latency_plot_svg(&big_points, &big_faults),
    );
    page.section(
        "throughput",
        "Throughput",
        &render::throughput_plot_svg(&big_points, &big_faults),
    );
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("render");
    std::fs::create_dir_all(&out_dir).expect("create output dir");
    std::fs::write(out_dir.join("plots.html"), page.finish()).expect("write plots page");
    // Empty input still gives a well-formed plot.
    assert!(render::latency_plot_svg(&[], &[]).ends_with("</svg>"));
    assert!(render::throughput_plot_svg(&[], &[]).ends_with("</svg>"));
}

#[test]
fn page_builder_escapes_headings_and_keeps_bodies() {
    let mut page = render::Page::new("a & b");
    page.section("plots", "Latency <ms>", "<p>body</p>");
    let html = page.finish();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<h2>Latency &lt;ms&gt;</h2>") && html.contains("<p>body</p>"));
    // Nothing is fetched: no external scripts, styles, images or fonts (the SVG namespace URI is not a fetch).
    for fetch in ["src=", "<link", "@import", "url(http"] {
        assert!(
            !html.contains(fetch),
            "the page must not load anything ({fetch})"
        );
    }
}

/// Undoes the entity escaping of a serialised DOM (text and attribute values).
fn unescape(dom: &str) -> String {
    dom.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        let found = std::env::var_os("PATH")
            .into_iter()
            .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file());
        if found.is_some() {
            return found;
        }
    }
    None
}

/// Runs chromium headless with `args` plus the common flags; returns stdout. Bounded by a timeout.
fn run_chromium(binary: &Path, profile: &Path, args: &[String]) -> String {
    let mut child = Command::new(binary)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let stdout = child.stdout.take().expect("piped stdout");
    let reader =
        std::thread::spawn(move || std::io::read_to_string(stdout).expect("read chromium output"));
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            assert!(status.success(), "chromium failed: {status}");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().expect("reader thread")
}

#[test]
fn chromium_renders_the_page_and_takes_a_screenshot() {
    let Some(binary) = chromium() else {
        if std::env::var("RAFTKV_SKIP_BROWSER").as_deref() == Ok("1") {
            eprintln!("SKIPPED: chromium not found and RAFTKV_SKIP_BROWSER=1");
            return;
        }
        panic!("chromium not found on PATH: install it (apt-get install -y chromium) or set RAFTKV_SKIP_BROWSER=1");
    };
    let (history, result) = illegal();
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("render");
    std::fs::create_dir_all(&out_dir).expect("create output dir");
    let page_path = out_dir.join("illegal.html");
    std::fs::write(
        &page_path,
        render::html(&history, &result, "Illegal kv history"),
    )
    .expect("write page");
    let url = format!("file://{}", page_path.display());
    let profile = tempfile::tempdir().expect("profile dir");

    let dom = run_chromium(
        &binary,
        profile.path(),
        &["--dump-dom".to_string(), url.clone()],
    );
    assert!(
        dom.contains(r#"data-rendered="yes""#),
        "the page script did not run:\n{dom}"
    );
    assert_eq!(
        dom.matches(r#"class="partition-button"#).count(),
        result.partitions.len(),
        "script-built selector"
    );
    assert!(
        dom.contains("(Illegal): 5 operations drawn."),
        "script-built status line missing:\n{dom}"
    );
    // Markup in a value would have become a <b> element, which the serialiser closes with </b>.
    assert!(!dom.contains("</b>"), "value markup was interpreted");
    let text = unescape(&dom);
    for op in &result.ops {
        assert!(
            text.contains(&op.description),
            "rendered DOM lacks {:?}",
            op.description
        );
    }

    let screenshot = out_dir.join("illegal.png");
    let _ = std::fs::remove_file(&screenshot);
    run_chromium(
        &binary,
        profile.path(),
        &[
            format!("--screenshot={}", screenshot.display()),
            "--window-size=1400,900".to_string(),
            url,
        ],
    );
    let size = std::fs::metadata(&screenshot).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 20_000,
        "screenshot {} is missing or nearly empty ({size} bytes)",
        screenshot.display()
    );
    eprintln!(
        "page: {}\nscreenshot: {}",
        page_path.display(),
        screenshot.display()
    );
}
