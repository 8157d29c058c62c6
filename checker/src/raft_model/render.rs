//! Renders a model path (a counterexample or an example) as readable steps: what happened (deliver,
//! drop, timeout, crash, restart, a client's choice) followed by every server's role, term, log and
//! commit point after the step.
//!
//! Guarantees: pure string building; one line per action plus one line per server, in path order.

use crate::raft_model::actor::{node_of, ActorState, ModelMsg, RaftTimer};
use crate::raft_model::runner::ModelAction;
use crate::raft_model::{RaftModel, RaftModelState};
use raftkv::raft::{Message, MessageBody};
use stateright::actor::{ActorModelAction, Id};
use stateright::Path;
use std::fmt::Write;

/// The display name of actor `id` in a model with `servers` servers: `s1..sn` for servers (their Raft
/// ids), `c0..` for clients.
pub fn actor_name(servers: usize, id: Id) -> String {
    let index = usize::from(id);
    if index < servers {
        format!("s{}", node_of(id).0)
    } else {
        format!("c{}", index - servers)
    }
}

fn message_summary(m: &Message) -> String {
    let body = match &m.body {
        MessageBody::PreVote {
            last_log_index,
            last_log_term,
        } => {
            format!("PreVote(last {last_log_index}@t{last_log_term})")
        }
        MessageBody::PreVoteResponse { granted } => format!("PreVoteResponse(granted={granted})"),
        MessageBody::RequestVote {
            last_log_index,
            last_log_term,
            ..
        } => {
            format!("RequestVote(last {last_log_index}@t{last_log_term})")
        }
        MessageBody::RequestVoteResponse { granted } => {
            format!("RequestVoteResponse(granted={granted})")
        }
        MessageBody::AppendEntries {
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit,
        } => {
            let terms: Vec<String> = entries
                .iter()
                .map(|e| format!("{}@t{}", e.index, e.term))
                .collect();
            format!(
                "AppendEntries(prev {prev_log_index}@t{prev_log_term}, entries [{}], commit {leader_commit})",
                terms.join(", ")
            )
        }
        MessageBody::AppendEntriesResponse {
            success,
            match_index,
            ..
        } => {
            format!("AppendEntriesResponse(success={success}, match {match_index})")
        }
        MessageBody::Heartbeat {
            leader_commit,
            read_context,
        } => {
            format!("Heartbeat(commit {leader_commit}, read {read_context:?})")
        }
        MessageBody::HeartbeatResponse { read_context } => {
            format!("HeartbeatResponse(read {read_context:?})")
        }
        other => format!("{other:?}"),
    };
    format!("{body} in t{}", m.term)
}

fn msg_summary(msg: &ModelMsg) -> String {
    match msg {
        ModelMsg::Raft(m) => message_summary(m),
        ModelMsg::Request { seq, op } => format!("request #{seq} {op:?}"),
        ModelMsg::Reply { seq, ret } => format!("reply #{seq} {ret:?}"),
        ModelMsg::NotLeader { seq } => format!("not-leader #{seq}"),
    }
}

/// One action as a line.
pub fn action_line(servers: usize, action: &ModelAction) -> String {
    let name = |id: &Id| actor_name(servers, *id);
    match action {
        ActorModelAction::Deliver { src, dst, msg } => {
            format!(
                "deliver {} -> {}: {}",
                name(src),
                name(dst),
                msg_summary(msg)
            )
        }
        ActorModelAction::Drop(env) => {
            format!(
                "drop {} -> {}: {}",
                name(&env.src),
                name(&env.dst),
                msg_summary(&env.msg)
            )
        }
        ActorModelAction::Timeout(id, RaftTimer::Election) => {
            format!("timeout {}: election timer", name(id))
        }
        ActorModelAction::Timeout(id, RaftTimer::Heartbeat) => {
            format!("timeout {}: heartbeat timer", name(id))
        }
        ActorModelAction::Crash(id) => format!("crash {}", name(id)),
        ActorModelAction::Recover(id) => format!("restart {} from its storage", name(id)),
        ActorModelAction::SelectRandom { actor, random, .. } => {
            format!(
                "client {} sends its operation to {}",
                name(actor),
                name(random)
            )
        }
    }
}

/// Every server's state as one line each.
pub fn servers_lines(state: &RaftModelState) -> Vec<String> {
    let servers = servers_count(state);
    state
        .actor_states
        .iter()
        .enumerate()
        .filter_map(|(index, actor)| match &**actor {
            ActorState::Server(s) => {
                let status = s.node.status();
                let log: Vec<String> = s.node.log_entries().iter().map(|e| e.term.0.to_string()).collect();
                let down = if state.crashed.get(index).copied().unwrap_or(false) { " (down)" } else { "" };
                Some(format!(
                    "    {}{down}: {} term {} voted {:?} log terms [{}] commit {} applied {} value {}",
                    actor_name(servers, Id::from(index)),
                    status.role,
                    status.term,
                    s.node.hard_state().voted_for.map(|n| n.0),
                    log.join(","),
                    status.commit_index,
                    status.applied_index,
                    s.kv_value
                ))
            }
            ActorState::Client(_) => None,
        })
        .collect()
}

fn servers_count(state: &RaftModelState) -> usize {
    state
        .actor_states
        .iter()
        .take_while(|s| matches!(***s, ActorState::Server(_)))
        .count()
}

/// The whole path: the initial servers, then each step and the servers after it. On the saturated
/// duplicating network a step is followed by the pure steps saturation took with it (deliveries and
/// timeouts that only sent messages), so that every message a later step delivers has a visible origin.
pub fn render_path(model: &RaftModel, path: &Path<RaftModelState, ModelAction>) -> String {
    let steps = path.clone().into_vec();
    let mut out = String::new();
    let Some((first, _)) = steps.first() else {
        return out;
    };
    let servers = servers_count(first);
    let _ = writeln!(out, "initial state");
    for line in servers_lines(first) {
        let _ = writeln!(out, "{line}");
    }
    for (number, window) in steps.windows(2).enumerate() {
        let (before, Some(action)) = &window[0] else {
            continue;
        };
        let _ = writeln!(out, "step {}: {}", number + 1, action_line(servers, action));
        if let ActorModelAction::Crash(id) = action {
            if !window[1]
                .0
                .crashed
                .get(usize::from(*id))
                .copied()
                .unwrap_or(true)
            {
                let restart = ActorModelAction::Recover(*id);
                let _ = writeln!(
                    out,
                    "  and at once (it was not the leader): {}",
                    action_line(servers, &restart)
                );
            }
        }
        let trace = model
            .step_with_closure(before, action.clone())
            .unwrap_or_default();
        for step in &trace.counted_with {
            let _ = writeln!(
                out,
                "  and with it, losing the round: {}",
                action_line(servers, step)
            );
        }
        for step in &trace.client_answers {
            let _ = writeln!(
                out,
                "  and at once (an answer that starts nothing new): {}",
                action_line(servers, step)
            );
        }
        for step in &trace.eager_timeouts {
            let _ = writeln!(
                out,
                "  and at once (a timeout with nothing to wait for): {}",
                action_line(servers, step)
            );
        }
        for step in &trace.pure {
            let _ = writeln!(
                out,
                "  and, changing no state: {}",
                action_line(servers, step)
            );
        }
        for line in servers_lines(&window[1].0) {
            let _ = writeln!(out, "{line}");
        }
    }
    out
}
