//! One work queue across every repository of the run. Nodes are prepared concurrently (bounded by
//! PAGE_CONCURRENCY, always under Notion's one rate limiter) in a `JoinSet`; each prepared node goes
//! to its repository's committer, a task of its own, so commits are serialised per repository but
//! never hold up the preparation of other pages, and no repository waits for another's listing.
//! Children found while preparing are queued at once. Memory stays bounded: prepared nodes waiting
//! for their commit are capped, and queued rows wait on disk.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::notify::DatabaseReport;

use super::commit::Committer;
use super::control::Stop;
use super::engine::Engine;
use super::prepare;
use super::vocab::{Prepared, Reason, RepoIx, Task, TaskError, TaskKind};

enum ToCommitter {
    Item(Box<(Task, Result<Prepared, TaskError>)>),
    Finalize { stopped: bool },
}

struct Done {
    follow: Vec<Task>,
}

/// How the pipeline ended.
pub(crate) struct Finished {
    pub reports: Vec<(RepoIx, DatabaseReport)>,
    pub stop: Option<Stop>,
    /// Every root database was listed (the state may move its "last run" mark).
    pub all_listed: bool,
    /// A task hit an error that dooms the run (a revoked token): its message.
    pub fatal: Option<String>,
}

/// Run every task to the end (or until the run must stop), then let each committer finish its
/// repository. `committers` holds one committer per repository that could be opened.
pub(crate) async fn run(
    engine: Arc<Engine>,
    committers: Vec<(RepoIx, Committer)>,
    initial: Vec<Task>,
    mut covered: HashSet<String>,
    workspace: Option<Task>,
) -> Finished {
    let concurrency = engine.cfg.page_concurrency.max(1);
    // Prepared nodes waiting for (or in) their commit: their rendered files are in memory.
    let max_waiting = concurrency * 2 + 2;
    let (events_tx, mut events) = mpsc::unbounded_channel::<Done>();
    let mut inboxes: Vec<Option<mpsc::UnboundedSender<ToCommitter>>> = (0..engine.repos.len()).map(|_| None).collect();
    let mut handles = Vec::new();
    for (ix, mut c) in committers {
        let (tx, mut rx) = mpsc::unbounded_channel::<ToCommitter>();
        inboxes[ix] = Some(tx);
        let events = events_tx.clone();
        let control = engine.control.clone();
        handles.push(tokio::spawn(async move {
            while let Some(msg) = rx.recv().await {
                match msg {
                    ToCommitter::Item(item) => {
                        let (task, result) = *item;
                        // Once the run must stop, nothing new is committed (the commit in flight
                        // finished); the next run does the rest.
                        let follow = if control.stop().is_some() { Vec::new() } else { c.handle(task, result).await };
                        let _ = events.send(Done { follow });
                    }
                    ToCommitter::Finalize { stopped } => {
                        c.finalize(stopped).await;
                        break;
                    }
                }
            }
            (ix, c.into_report())
        }));
    }
    drop(events_tx);

    let mut queue: VecDeque<Task> = VecDeque::new();
    let mut started: HashSet<(RepoIx, String, String)> = HashSet::new();
    let mut outstanding = 0usize;
    let mut waiting = 0usize;
    let mut root_listings = 0usize;
    let mut all_listed = true;
    let mut fatal: Option<String> = None;
    let mut workspace = workspace;
    for t in initial {
        if inboxes[t.repo].is_some() {
            if t.root && t.kind == TaskKind::Database {
                root_listings += 1;
            }
            engine.scheduled[t.repo].fetch_add(1, Ordering::SeqCst);
            queue.push_back(t);
            outstanding += 1;
        }
    }
    let mut inflight: JoinSet<(Task, Result<Prepared, TaskError>)> = JoinSet::new();
    let progress = crate::logging::progress(0, "Notion backup");
    let mut pages_total = 0u64;
    let mut stop = None;

    loop {
        if stop.is_none() {
            stop = engine.control.stop();
            if stop.is_some() {
                outstanding -= queue.len();
                queue.clear();
                inflight.abort_all();
            }
        }
        if root_listings == 0 {
            if let Some(w) = workspace.take().filter(|w| inboxes[w.repo].is_some()) {
                if stop.is_none() {
                    engine.scheduled[w.repo].fetch_add(1, Ordering::SeqCst);
                    queue.push_back(w);
                    outstanding += 1;
                }
            }
        }
        while stop.is_none() && inflight.len() < concurrency && waiting < max_waiting {
            let Some(task) = queue.pop_front() else { break };
            if !started.insert((task.repo, task.id.clone(), task.folder.clone())) && task.kind != TaskKind::Workspace {
                outstanding -= 1;
                engine.scheduled[task.repo].fetch_sub(1, Ordering::SeqCst);
                continue;
            }
            if task.kind == TaskKind::Page {
                pages_total += 1;
                progress.set_total(pages_total);
            }
            tracing::debug!(page = %task.shown(), reason = task.reason.as_str(), "backing up");
            let covered_now = Arc::new(if task.kind == TaskKind::Workspace { covered.clone() } else { HashSet::new() });
            inflight.spawn(prepare::prepare(engine.clone(), task, covered_now));
        }
        if outstanding == 0 && workspace.is_none() {
            break;
        }
        tokio::select! {
            Some(joined) = inflight.join_next(), if !inflight.is_empty() => {
                let (mut task, result) = match joined {
                    Ok(x) => x,
                    Err(e) => {
                        // Aborted by a stop, or a bug in one task: never the end of the others.
                        outstanding -= 1;
                        if !e.is_cancelled() {
                            tracing::error!("a page task stopped unexpectedly: {e}");
                        }
                        continue;
                    }
                };
                if let Err(e) = &result {
                    if e.is_fatal() {
                        fatal.get_or_insert_with(|| e.to_string());
                        engine.control.set_fatal();
                    }
                }
                let mut result = result;
                if task.root && task.kind == TaskKind::Database {
                    root_listings -= 1;
                    match &result {
                        Ok(p) => {
                            covered.insert(task.id.clone());
                            covered.extend(p.children.iter().map(|c| c.id.clone()));
                            covered.extend(p.data_sources.iter().cloned());
                        }
                        Err(_) => all_listed = false,
                    }
                }
                if let Ok(p) = result.as_mut() {
                    for c in p.children.iter_mut() {
                        if let Some(t) = c.task.take() {
                            engine.scheduled[t.repo].fetch_add(1, Ordering::SeqCst);
                            queue.push_back(t);
                            outstanding += 1;
                        }
                    }
                }
                if task.kind == TaskKind::Workspace {
                    task.title = engine.repos[task.repo].label.clone();
                }
                let inbox = inboxes[task.repo].as_ref().expect("committer of a scheduled task");
                waiting += 1;
                if inbox.send(ToCommitter::Item(Box::new((task, result)))).is_err() {
                    waiting -= 1;
                    outstanding -= 1;
                }
            }
            Some(done) = events.recv() => {
                waiting -= 1;
                outstanding -= 1;
                progress.inc("");
                if stop.is_none() {
                    for t in done.follow {
                        engine.scheduled[t.repo].fetch_add(1, Ordering::SeqCst);
                        queue.push_back(t);
                        outstanding += 1;
                    }
                    for t in engine.woken_tasks() {
                        if !started.iter().any(|(r, i, _)| *r == t.repo && *i == t.id) {
                            engine.scheduled[t.repo].fetch_add(1, Ordering::SeqCst);
                            queue.push_back(t);
                            outstanding += 1;
                        }
                    }
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
    progress.finish();
    let stopped = stop.is_some() || fatal.is_some();
    for inbox in inboxes.iter().flatten() {
        let _ = inbox.send(ToCommitter::Finalize { stopped });
    }
    drop(inboxes);
    let mut reports = Vec::new();
    for h in handles {
        if let Ok(r) = h.await {
            reports.push(r);
        }
    }
    reports.sort_by_key(|(ix, _)| *ix);
    Finished { reports, stop, all_listed, fatal }
}

impl Engine {
    /// Recorded pages whose missing link target became known in this run: rendered again (they are
    /// read from Notion, like an edit).
    pub(crate) fn woken_tasks(&self) -> Vec<Task> {
        let woken: Vec<String> = std::mem::take(&mut *self.woken.lock().expect("woken lock"));
        let st = self.state.read().expect("state lock");
        woken
            .into_iter()
            .filter_map(|id| {
                let r = st.pages.get(&id)?;
                let repo = self.repo_index(&r.repo)?;
                let folder = r.folder.clone()?;
                Some(Task::from_record(repo, &id, r, folder, Reason::Links))
            })
            .collect()
    }
}
