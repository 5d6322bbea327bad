//! The root supervisor: starts the actors in order, restarts one that fails, and gives up — telling the
//! process to exit non-zero so its orchestrator restarts it — when failures exceed the restart budget.
//!
//! ractor's default supervisor stops itself when a child exits and has no restart intensity; this actor
//! overrides `handle_supervisor_evt` and keeps the budget itself (a sliding window, like Erlang/OTP's
//! `intensity`/`period`). A panic in a child's `pre_start` surfaces as a spawn error, not as an event, so a
//! failed restart is retried with a delay and counts against the same budget.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use tokio::sync::watch;

use crate::telemetry;

/// Starts one child linked to the supervisor and returns its cell. Called again for each restart.
pub type StartFn =
    Arc<dyn Fn(ActorCell) -> Pin<Box<dyn Future<Output = Result<ActorCell, ractor::SpawnErr>> + Send>> + Send + Sync>;

/// How to start one child.
#[derive(Clone)]
pub struct ChildSpec {
    /// The child's metric label and log name.
    pub name: &'static str,
    /// Starts it (and points its handle's slot at it).
    pub start: StartFn,
    /// Called when the child stops or fails (empties its handle's slot).
    pub on_down: Arc<dyn Fn() + Send + Sync>,
}

impl std::fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSpec").field("name", &self.name).finish_non_exhaustive()
    }
}

/// How many restarts are tolerated in which window before the whole process gives up.
#[derive(Debug, Clone, Copy)]
pub struct RestartBudget {
    /// Restarts allowed within `window`.
    pub max_restarts: usize,
    /// The sliding window.
    pub window: Duration,
}

impl Default for RestartBudget {
    fn default() -> Self {
        Self { max_restarts: 5, window: Duration::from_secs(10) }
    }
}

/// Start-up arguments of the supervisor.
pub struct SupervisorArgs {
    /// Children, in start order (stopped in reverse).
    pub children: Vec<ChildSpec>,
    /// The restart budget.
    pub budget: RestartBudget,
    /// Set to `Some(reason)` when the budget is exhausted: the process must exit non-zero.
    pub fatal: watch::Sender<Option<String>>,
}

/// Messages of the supervisor.
pub enum SupervisorMsg {
    /// Start child `index` again (after a failed restart).
    Restart(usize),
    /// Stop every child in reverse start order, then answer.
    Shutdown {
        /// The actor tree's share of the shutdown budget: a child still running when it is spent is killed.
        within: Duration,
        /// Answered once every child is down.
        reply: RpcReplyPort<()>,
    },
}

/// The root supervisor actor.
#[derive(Debug, Default)]
pub struct RootSupervisor;

/// The supervisor's state.
pub struct SupervisorState {
    children: Vec<ChildSpec>,
    running: HashMap<ActorId, usize>,
    cells: Vec<Option<ActorCell>>,
    budget: RestartBudget,
    recent_restarts: VecDeque<Instant>,
    fatal: watch::Sender<Option<String>>,
    stopping: bool,
}

/// Delay before retrying a restart whose `pre_start` failed.
const RETRY_DELAY: Duration = Duration::from_millis(200);
/// The longest one child may take to stop before it is killed, however much of the budget is left.
const CHILD_STOP: Duration = Duration::from_secs(5);

impl SupervisorState {
    /// Records a restart; `false` when the budget is exhausted.
    fn spend_budget(&mut self) -> bool {
        let now = Instant::now();
        while self.recent_restarts.front().is_some_and(|t| now.duration_since(*t) > self.budget.window) {
            self.recent_restarts.pop_front();
        }
        self.recent_restarts.push_back(now);
        self.recent_restarts.len() <= self.budget.max_restarts
    }

    async fn start_child(&mut self, index: usize, myself: &ActorRef<SupervisorMsg>) -> Result<(), ractor::SpawnErr> {
        let spec = self.children[index].clone();
        let cell = (spec.start)(myself.get_cell()).await?;
        self.running.insert(cell.get_id(), index);
        self.cells[index] = Some(cell);
        telemetry::set_up(spec.name, true);
        // Registers the series at 0 so dashboards and alerts see it before the first restart.
        telemetry::count_restarts(spec.name, 0);
        Ok(())
    }

    /// Handles the loss of child `index`: restart within budget, else give up.
    async fn child_down(&mut self, index: usize, myself: &ActorRef<SupervisorMsg>, why: &str) {
        let name = self.children[index].name;
        (self.children[index].on_down)();
        self.cells[index] = None;
        telemetry::set_up(name, false);
        if self.stopping {
            return;
        }
        if !self.spend_budget() {
            let reason = format!(
                "actor {name} failed more than {} times in {:?}; giving up",
                self.budget.max_restarts, self.budget.window
            );
            tracing::error!(event = "restart_budget_exhausted", actor = name, %reason);
            self.fatal.send_replace(Some(reason.clone()));
            self.stopping = true;
            myself.stop(Some(reason));
            return;
        }
        telemetry::count_restarts(name, 1);
        tracing::warn!(event = "actor_restart", actor = name, cause = why, "restarting actor");
        if let Err(err) = self.start_child(index, myself).await {
            tracing::error!(event = "actor_restart_failed", actor = name, error = %err, "restart failed; retrying");
            myself.send_after(RETRY_DELAY, move || SupervisorMsg::Restart(index));
        }
    }
}

impl Actor for RootSupervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = SupervisorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        let cells = vec![None; args.children.len()];
        let mut state = SupervisorState {
            children: args.children,
            running: HashMap::new(),
            cells,
            budget: args.budget,
            recent_restarts: VecDeque::new(),
            fatal: args.fatal,
            stopping: false,
        };
        for index in 0..state.children.len() {
            state.start_child(index, &myself).await?;
        }
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SupervisorMsg::Restart(index) => {
                if state.cells[index].is_none() && !state.stopping {
                    let name = state.children[index].name;
                    if let Err(err) = state.start_child(index, &myself).await {
                        if state.spend_budget() {
                            tracing::error!(event = "actor_restart_failed", actor = name, error = %err);
                            myself.send_after(RETRY_DELAY, move || SupervisorMsg::Restart(index));
                        } else {
                            let reason = format!("actor {name} cannot be restarted: {err}");
                            tracing::error!(event = "restart_budget_exhausted", actor = name, %reason);
                            state.fatal.send_replace(Some(reason.clone()));
                            state.stopping = true;
                            myself.stop(Some(reason));
                        }
                    }
                }
            }
            SupervisorMsg::Shutdown { within, reply } => {
                state.stopping = true;
                // Children stop one by one in reverse start order, each within what is left of `within`.
                let deadline = tokio::time::Instant::now() + within;
                for index in (0..state.cells.len()).rev() {
                    if let Some(cell) = state.cells[index].take() {
                        let name = state.children[index].name;
                        tracing::info!(actor = name, "stopping actor");
                        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                        if cell.stop_and_wait(Some("shutdown".into()), Some(left.min(CHILD_STOP))).await.is_err() {
                            tracing::warn!(actor = name, "actor did not stop in time; killing it");
                            cell.kill();
                        }
                        (state.children[index].on_down)();
                        telemetry::set_up(name, false);
                    }
                }
                let _ = reply.send(());
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorFailed(cell, err) => {
                if let Some(index) = state.running.remove(&cell.get_id()) {
                    let why = err.to_string();
                    state.child_down(index, &myself, &why).await;
                }
            }
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                if let Some(index) = state.running.remove(&cell.get_id()) {
                    let why = reason.unwrap_or_else(|| "stopped".into());
                    state.child_down(index, &myself, &why).await;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
