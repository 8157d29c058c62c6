//! Process-management tests of `harness::cluster` with stand-in programs instead of the real server:
//! start, kill -9, restart, pause/resume, logs, readiness (success, early exit, timeout) and teardown.
//! Processes are observed through the OS (`kill(pid, 0)`, `/proc/<pid>/stat`), never through timing.
//!
//! The TCP stand-in is this test binary itself, re-run with `STANDIN_LISTEN=ADDR` on the ignored test
//! `standin_tcp_listener`, so no extra tool (python, nc) is needed.

use harness::cluster::{
    registered_pids, Cluster, ClusterError, NodeSpec, NodeState, TcpConnectProbe,
};
use nix::sys::signal::kill;
use nix::unistd::Pid;
use raftkv::raft::NodeId;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Upper bound on any wait for a condition; reaching it means the test failed.
const WAIT_MAX: Duration = Duration::from_secs(10);
const STANDIN_ENV: &str = "STANDIN_LISTEN";

fn alive(pid: u32) -> bool {
    kill(Pid::from_raw(i32::try_from(pid).expect("pid")), None).is_ok()
}

/// The process state letter from /proc (R, S, T = stopped, Z = zombie...).
/// `None` once the process is gone.
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The state follows the parenthesised command name, which may itself contain spaces.
    let after_name = &stat[stat.rfind(')')? + 2..];
    after_name.chars().next()
}

fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + WAIT_MAX;
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} not reached within {WAIT_MAX:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn sleeper(id: u64) -> NodeSpec {
    NodeSpec {
        id: NodeId(id),
        program: PathBuf::from("sleep"),
        args: vec!["30".to_string()],
        client_addr: None,
    }
}

fn shell(id: u64, script: &str, client_addr: Option<SocketAddr>) -> NodeSpec {
    NodeSpec {
        id: NodeId(id),
        program: PathBuf::from("sh"),
        args: vec!["-c".to_string(), script.to_string()],
        client_addr,
    }
}

fn free_addr() -> SocketAddr {
    harness::cluster::free_loopback_addrs(1).expect("port")[0]
}

/// A TCP listener stand-in for a server node: runs only when re-executed with STANDIN_LISTEN set.
#[test]
#[ignore = "helper process for other tests; run by them with STANDIN_LISTEN=ADDR"]
fn standin_tcp_listener() {
    // Run by hand or with --include-ignored, there is nothing to stand in for.
    let Ok(addr) = std::env::var(STANDIN_ENV) else {
        return;
    };
    let listener = std::net::TcpListener::bind(&addr).expect("bind stand-in address");
    // Accept (and drop) connections until killed; bounded so a leaked stand-in ends by itself.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    listener.set_nonblocking(true).expect("nonblocking");
    while std::time::Instant::now() < deadline {
        let _ = listener.accept();
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn listener_standin(id: u64, addr: SocketAddr) -> NodeSpec {
    let exe = std::env::current_exe().expect("test binary path");
    NodeSpec {
        id: NodeId(id),
        program: PathBuf::from("env"),
        args: vec![
            format!("{STANDIN_ENV}={addr}"),
            exe.display().to_string(),
            "--ignored".to_string(),
            "--exact".to_string(),
            "standin_tcp_listener".to_string(),
            "--nocapture".to_string(),
        ],
        client_addr: Some(addr),
    }
}

#[test]
fn kill_restart_pause_resume_and_records() {
    let run = tempfile::tempdir().expect("run dir");
    let mut cluster = Cluster::spawn(run.path(), (1..=3).map(sleeper).collect()).expect("spawn");
    assert_eq!(cluster.ids(), vec![NodeId(1), NodeId(2), NodeId(3)]);
    let first_pid = cluster
        .node(NodeId(1))
        .expect("node")
        .pid()
        .expect("running");
    assert!(alive(first_pid));
    assert!(registered_pids().contains(&i32::try_from(first_pid).expect("pid")));

    let exit = cluster.kill(NodeId(1)).expect("kill");
    assert_eq!(exit.signal, Some(9));
    assert!(exit.killed_by_harness);
    assert!(
        !alive(first_pid),
        "killed process must be gone (reaped, not a zombie)"
    );
    assert_eq!(cluster.state(NodeId(1)).expect("state"), NodeState::Stopped);
    assert!(matches!(
        cluster.kill(NodeId(1)),
        Err(ClusterError::NotRunning(_))
    ));

    let second_pid = cluster.restart(NodeId(1)).expect("restart");
    assert_ne!(second_pid, first_pid);
    assert!(alive(second_pid));
    assert!(matches!(
        cluster.restart(NodeId(1)),
        Err(ClusterError::AlreadyRunning(_))
    ));
    let records = &cluster.records()[&NodeId(1)];
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].pid, first_pid);
    assert_eq!(
        records[0].exit.as_ref().and_then(|exit| exit.signal),
        Some(9)
    );
    assert_eq!(
        (records[1].pid, records[1].exit.clone()),
        (second_pid, None)
    );

    let paused_pid = cluster
        .node(NodeId(2))
        .expect("node")
        .pid()
        .expect("running");
    cluster.pause(NodeId(2)).expect("pause");
    wait_for("stopped state", || proc_state(paused_pid) == Some('T'));
    assert_eq!(cluster.state(NodeId(2)).expect("state"), NodeState::Paused);
    cluster.resume(NodeId(2)).expect("resume");
    wait_for("running state", || {
        proc_state(paused_pid).is_some_and(|state| state != 'T')
    });
    assert_eq!(cluster.state(NodeId(2)).expect("state"), NodeState::Running);

    assert!(matches!(
        cluster.kill(NodeId(9)),
        Err(ClusterError::UnknownNode(_))
    ));
}

#[test]
fn drop_kills_every_process_including_paused_ones() {
    let run = tempfile::tempdir().expect("run dir");
    let mut cluster = Cluster::spawn(run.path(), (1..=3).map(sleeper).collect()).expect("spawn");
    cluster.pause(NodeId(3)).expect("pause");
    let pids: Vec<u32> = cluster.nodes().filter_map(|node| node.pid()).collect();
    assert_eq!(pids.len(), 3);
    assert!(pids.iter().all(|&pid| alive(pid)));
    drop(cluster);
    for pid in pids {
        assert!(!alive(pid), "pid {pid} survived the cluster's drop");
        assert!(!registered_pids().contains(&i32::try_from(pid).expect("pid")));
    }
}

#[test]
fn teardown_reports_each_live_node_and_is_idempotent() {
    let run = tempfile::tempdir().expect("run dir");
    let mut cluster = Cluster::spawn(run.path(), (1..=2).map(sleeper).collect()).expect("spawn");
    cluster.kill(NodeId(1)).expect("kill");
    let ended = cluster.teardown();
    assert_eq!(
        ended.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        vec![NodeId(2)]
    );
    assert!(cluster.teardown().is_empty());
}

#[test]
fn logs_hold_stdout_stderr_and_a_header_per_incarnation() {
    let run = tempfile::tempdir().expect("run dir");
    // printf builds the words at run time, so the header line (which quotes the script) never matches.
    let spec = shell(
        1,
        "printf 'out-%s\\n' stdout; printf 'err-%s\\n' stderr >&2; sleep 30",
        None,
    );
    let mut cluster = Cluster::spawn(run.path(), vec![spec]).expect("spawn");
    let log = run.path().join("node-1.log");
    assert_eq!(cluster.node(NodeId(1)).expect("node").log_path(), log);
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_for("output in log", || {
        read().contains("out-stdout") && read().contains("err-stderr")
    });
    cluster.kill(NodeId(1)).expect("kill");
    cluster.restart(NodeId(1)).expect("restart");
    wait_for("second incarnation output", || {
        read().matches("out-stdout").count() == 2
    });
    assert_eq!(read().matches("=== harness: starting node 1").count(), 2);
}

#[test]
fn kill_reaches_processes_the_node_forked() {
    let run = tempfile::tempdir().expect("run dir");
    let pid_file = run.path().join("grandchild.pid");
    let script = format!("sleep 30 & echo $! > {}; wait", pid_file.display());
    let mut cluster = Cluster::spawn(run.path(), vec![shell(1, &script, None)]).expect("spawn");
    wait_for("grandchild pid written", || {
        std::fs::read_to_string(&pid_file).is_ok_and(|text| text.trim().parse::<u32>().is_ok())
    });
    let grandchild: u32 = std::fs::read_to_string(&pid_file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    assert!(alive(grandchild));
    cluster.kill(NodeId(1)).expect("kill");
    // The orphan is reaped by init; until then it may linger as a zombie, which is dead too.
    wait_for("grandchild gone", || {
        matches!(proc_state(grandchild), None | Some('Z'))
    });
}

#[test]
fn spawn_of_a_missing_program_is_a_clear_error() {
    let run = tempfile::tempdir().expect("run dir");
    let spec = NodeSpec {
        id: NodeId(1),
        program: PathBuf::from("/nonexistent/raftkv"),
        args: Vec::new(),
        client_addr: None,
    };
    let error = Cluster::spawn(run.path(), vec![spec]).expect_err("cannot spawn");
    assert!(matches!(error, ClusterError::Spawn { .. }));
    assert!(error.to_string().contains("/nonexistent/raftkv"), "{error}");
}

#[tokio::test]
async fn wait_ready_succeeds_once_every_node_accepts_connections() {
    let run = tempfile::tempdir().expect("run dir");
    let specs = (1..=3)
        .map(|id| listener_standin(id, free_addr()))
        .collect();
    let mut cluster = Cluster::spawn(run.path(), specs).expect("spawn");
    let leader = cluster
        .wait_ready(&TcpConnectProbe::default(), WAIT_MAX)
        .await
        .expect("stand-ins become ready");
    assert_eq!(leader, None, "a TCP probe cannot know leaders");
    for (_, addr) in cluster.client_addrs() {
        std::net::TcpStream::connect(addr).expect("ready means it accepts");
    }
}

#[tokio::test]
async fn wait_ready_reports_a_node_that_exits_with_its_log() {
    let run = tempfile::tempdir().expect("run dir");
    let specs = vec![
        sleeper(1),
        shell(2, "echo boom-before-exit; exit 3", Some(free_addr())),
    ];
    let mut cluster = Cluster::spawn(run.path(), specs).expect("spawn");
    let error = cluster
        .wait_ready(&TcpConnectProbe::default(), WAIT_MAX)
        .await
        .expect_err("node 2 exits");
    match &error {
        ClusterError::ExitedEarly {
            id, exit, log_tail, ..
        } => {
            assert_eq!(*id, NodeId(2));
            assert_eq!(exit.code, Some(3));
            assert!(!exit.killed_by_harness);
            assert!(log_tail.contains("boom-before-exit"), "{log_tail}");
        }
        other => panic!("expected ExitedEarly, got {other}"),
    }
}

#[tokio::test]
async fn wait_ready_gives_up_on_a_node_that_never_listens() {
    let run = tempfile::tempdir().expect("run dir");
    let mut deaf = sleeper(4);
    deaf.client_addr = Some(free_addr());
    let mut cluster = Cluster::spawn(run.path(), vec![deaf]).expect("spawn");
    let error = cluster
        .wait_ready(&TcpConnectProbe::default(), Duration::from_millis(300))
        .await
        .expect_err("never ready");
    assert!(matches!(error, ClusterError::NotReady { .. }));
    assert!(error.to_string().contains("node 4"), "{error}");
    assert!(error.to_string().contains("node-4.log"), "{error}");
}

/// Writes a fake `raftkv` that records its arguments, and (once, if `fail_first` is set) exits as if its
/// port were taken; otherwise it becomes the TCP stand-in on its `--listen` address.
fn fake_raftkv(dir: &std::path::Path, fail_first: bool) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let exe = std::env::current_exe().expect("test binary path");
    let marker = dir.join("failed-once");
    let conflict = if fail_first {
        format!(
            "if mkdir {} 2>/dev/null; then echo 'Error: bind: Address already in use (os error 98)'; exit 1; fi\n",
            marker.display()
        )
    } else {
        String::new()
    };
    let script = format!(
        "#!/bin/sh\n\
         echo \"$@\" > {dir}/args-$2\n\
         {conflict}\
         while [ $# -gt 0 ]; do case \"$1\" in --listen) LISTEN=\"$2\"; shift;; esac; shift; done\n\
         {STANDIN_ENV}=\"$LISTEN\" exec {exe} --ignored --exact standin_tcp_listener\n",
        dir = dir.display(),
        exe = exe.display(),
    );
    let path = dir.join("fake-raftkv");
    std::fs::write(&path, script).expect("write fake raftkv");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

fn launch_config(
    dir: &std::path::Path,
    binary: PathBuf,
    use_proxy: bool,
) -> harness::cluster::LaunchConfig {
    harness::cluster::LaunchConfig {
        binary,
        run_dir: dir.join("run"),
        node_count: 3,
        server: harness::cluster::ServerOptions {
            tick_ms: Some(10),
            ..Default::default()
        },
        use_proxy,
        seed: 99,
        ready_timeout: WAIT_MAX,
    }
}

#[tokio::test]
async fn launch_routes_peers_through_the_proxy_mesh_and_waits_for_readiness() {
    let dir = tempfile::tempdir().expect("dir");
    let config = launch_config(dir.path(), fake_raftkv(dir.path(), false), true);
    let (cluster, leader) = harness::cluster::launch(&config, &TcpConnectProbe::default())
        .await
        .expect("launch");
    assert_eq!(leader, None);
    assert_eq!(cluster.ids(), vec![NodeId(1), NodeId(2), NodeId(3)]);
    let mesh = cluster.mesh().expect("proxy mesh attached");
    for id in cluster.ids() {
        let args =
            std::fs::read_to_string(dir.path().join(format!("args-{id}"))).expect("args recorded");
        let listen = cluster.client_addrs()[&id];
        assert!(args.contains(&format!("--listen {listen}")), "{args}");
        assert!(args.contains(&format!(
            "--data-dir {}",
            config.run_dir.join(format!("data-{id}")).display()
        )));
        assert!(args.contains("--tick-ms 10"), "{args}");
        for peer in cluster.ids().into_iter().filter(|&peer| peer != id) {
            let proxy = mesh.proxy_addr(id, peer).expect("link proxy");
            assert!(
                args.contains(&format!("--peer {peer}={proxy}")),
                "node {id} must dial {peer} via proxy: {args}"
            );
        }
        assert!(config.run_dir.join(format!("node-{id}.log")).is_file());
    }
}

#[tokio::test]
async fn launch_retries_when_a_reserved_port_was_taken() {
    let dir = tempfile::tempdir().expect("dir");
    let config = launch_config(dir.path(), fake_raftkv(dir.path(), true), false);
    let (cluster, _) = harness::cluster::launch(&config, &TcpConnectProbe::default())
        .await
        .expect("second attempt succeeds");
    assert!(
        dir.path().join("failed-once").is_dir(),
        "the first attempt did fail"
    );
    assert!(cluster.mesh().is_none());
    assert_eq!(states_of(&cluster), [NodeState::Running; 3]);
}

#[tokio::test]
async fn launch_rejects_bad_node_counts_and_missing_binaries() {
    let dir = tempfile::tempdir().expect("dir");
    let mut config = launch_config(dir.path(), PathBuf::from("/nonexistent/raftkv"), false);
    let error = harness::cluster::launch(&config, &TcpConnectProbe::default())
        .await
        .expect_err("missing binary");
    assert!(matches!(error, ClusterError::Spawn { .. }), "{error}");
    config.node_count = 0;
    let error = harness::cluster::launch(&config, &TcpConnectProbe::default())
        .await
        .expect_err("zero nodes");
    assert!(matches!(error, ClusterError::Config(_)), "{error}");
}

fn states_of(cluster: &Cluster) -> Vec<NodeState> {
    cluster
        .ids()
        .into_iter()
        .map(|id| cluster.state(id).expect("node"))
        .collect()
}

const CTRLC_ENV: &str = "CTRLC_HELPER_PID_FILE";

/// Helper process for the Ctrl-C test: starts two stand-in nodes, writes their pids, waits to be
/// interrupted. Runs only when re-executed with CTRLC_HELPER_PID_FILE set.
#[test]
#[ignore = "helper process for ctrl_c_kills_every_node; run by it with CTRLC_HELPER_PID_FILE=PATH"]
fn ctrlc_helper() {
    let Ok(pid_file) = std::env::var(CTRLC_ENV) else {
        return;
    };
    let run = tempfile::tempdir().expect("run dir");
    let cluster = Cluster::spawn(run.path(), (1..=2).map(sleeper).collect()).expect("spawn");
    let pids: Vec<String> = cluster
        .nodes()
        .filter_map(|node| node.pid())
        .map(|pid| pid.to_string())
        .collect();
    let partial = format!("{pid_file}.partial");
    std::fs::write(&partial, pids.join("\n")).expect("write pids");
    std::fs::rename(&partial, &pid_file).expect("publish pids");
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn ctrl_c_kills_every_node() {
    let dir = tempfile::tempdir().expect("dir");
    let pid_file = dir.path().join("pids");
    let mut helper = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--ignored", "--exact", "ctrlc_helper", "--nocapture"])
        .env(CTRLC_ENV, &pid_file)
        .spawn()
        .expect("start helper");
    wait_for("helper started its nodes", || pid_file.exists());
    let pids: Vec<u32> = std::fs::read_to_string(&pid_file)
        .expect("pids")
        .lines()
        .map(|line| line.parse().expect("pid"))
        .collect();
    assert_eq!(pids.len(), 2);
    assert!(pids.iter().all(|&pid| alive(pid)));
    let helper_pid = Pid::from_raw(i32::try_from(helper.id()).expect("pid"));
    nix::sys::signal::kill(helper_pid, nix::sys::signal::Signal::SIGINT).expect("send SIGINT");
    let status = helper.wait().expect("helper exits");
    assert_eq!(status.code(), Some(harness::cluster::INTERRUPTED_EXIT_CODE));
    for pid in pids {
        // Orphaned by the helper, the killed nodes are reaped by init; a zombie is dead too.
        wait_for("node killed by the Ctrl-C handler", || {
            matches!(proc_state(pid), None | Some('Z'))
        });
    }
}
