"""Waiting on many jobs at once: one GetJobStatuses call per job set and round, rather than one
GetJobStatus call per job. For one process that follows many tasks: a script or operator with many
jobs (wait_for_jobs), or the triggers of one Airflow triggerer (JobStatusPoller, shared_poller).

The answers and deadlines are those of the one-job wait (job.next_step, job.step_after): only the
number of calls changes.
"""
import asyncio
import time
import weakref

from .client import JobStatus
from .errors import JobServiceError
from .job import Done, PollPolicy, step_after

# The server's default JOBSERVICE_MAX_BATCH_IDS: GetJobStatuses refuses more ids in one call.
DEFAULT_BATCH_SIZE = 1000


class StatusReader:
    """Many jobs' answers from a Job Service client: GetJobStatuses with at most `batch_size` ids a call
    (keep it at or below the server's JOBSERVICE_MAX_BATCH_IDS), or GetJobStatus for each job once the
    server has answered GetJobStatuses UNIMPLEMENTED (an older server; remembered from then on)."""

    def __init__(self, jobservice, batch_size=DEFAULT_BATCH_SIZE):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.jobservice = jobservice
        self.batch_size = batch_size
        self.batched = True

    def read(self, queue, job_set_id, job_ids):
        """{job_id: JobStatus} for every distinct id; raises the first JobServiceError a call raises."""
        ids = list(dict.fromkeys(job_ids))
        if self.batched:
            try:
                return self._read_batched(queue, job_set_id, ids)
            except JobServiceError as error:
                if error.code != "unimplemented":
                    raise
                self.batched = False
        return {job_id: self.jobservice.status(queue, job_set_id, job_id) for job_id in ids}

    def _read_batched(self, queue, job_set_id, ids):
        statuses = {}
        for start in range(0, len(ids), self.batch_size):
            statuses.update(self.jobservice.get_job_statuses(queue, job_set_id, ids[start:start + self.batch_size]))
        missing = JobStatus("CONNECTION_ERR", "the Job Service's GetJobStatuses answer left this job out")
        return {job_id: statuses.get(job_id, missing) for job_id in ids}


def poll_round(reader, entries, now):
    """One round over `entries`, (TrackedJob, PollPolicy) pairs: one read per job set; returns each
    entry's step (Done or Wait), in order. A failed read counts for every job of its job set."""
    job_sets = {}
    for job, _ in entries:
        job_sets.setdefault((job.queue, job.job_set_id), []).append(job.job_id)
    answers = {}
    for (queue, job_set_id), job_ids in job_sets.items():
        try:
            statuses = reader.read(queue, job_set_id, job_ids)
        except JobServiceError as error:
            statuses = dict.fromkeys(job_ids, error)
        answers.update({(queue, job_set_id, job_id): answer for job_id, answer in statuses.items()})
    return [step_after(answers[(job.queue, job.job_set_id, job.job_id)], job, now, policy, "status call") for job, policy in entries]


def wait_for_jobs(jobservice, jobs, policy=PollPolicy(), clock=time.time, sleep=time.sleep, on_status=None, batch_size=DEFAULT_BATCH_SIZE):
    """Polls `jobs` (TrackedJobs) until every one has ended, with one GetJobStatuses call per job set
    and round (see StatusReader); returns {job_id: Done}. A round comes as soon as the soonest job is
    due; `on_status(job, JobStatus)` sees every transient answer."""
    reader = StatusReader(jobservice, batch_size)
    pending = list(jobs)
    done = {}
    while pending:
        steps = poll_round(reader, [(job, policy) for job in pending], clock())
        waits = []
        for job, step in zip(pending, steps):
            if isinstance(step, Done):
                done[job.job_id] = step
            else:
                waits.append((job, step))
        if on_status is not None:
            for job, step in waits:
                on_status(job, step.status)
        pending = [job for job, _ in waits]
        if pending:
            sleep(min(step.seconds for _, step in waits))
    return done


class JobStatusPoller:
    """Waits for many jobs in one event loop — the triggers of one Airflow triggerer — with one round of
    poll_round for all of them: `await poller.wait(job, policy)` returns the job's Done. A round runs in
    a thread, when a new job joins and when the soonest job is due."""

    def __init__(self, reader, clock=time.time):
        self._reader = reader
        self._clock = clock
        self._waiting = []  # [job, policy, future]
        self._wake = None
        self._rounds = None

    async def wait(self, job, policy=PollPolicy()):
        future = asyncio.get_running_loop().create_future()
        entry = (job, policy, future)
        self._waiting.append(entry)
        if self._wake is None:
            self._wake = asyncio.Event()
        self._wake.set()
        if self._rounds is None or self._rounds.done():
            self._rounds = asyncio.ensure_future(self._run())
        try:
            return await future
        finally:
            self._waiting.remove(entry)

    async def _run(self):
        while True:
            entries = [entry for entry in self._waiting if not entry[2].done()]
            if not entries:
                return
            self._wake.clear()
            try:
                steps = await asyncio.to_thread(poll_round, self._reader, [(job, policy) for job, policy, _ in entries], self._clock())
            except Exception as error:  # a bug, not an answer: every waiter hears of it rather than hangs
                for _, _, future in entries:
                    if not future.done():
                        future.set_exception(error)
                return
            waits = []
            for (_, _, future), step in zip(entries, steps):
                if future.done():
                    continue  # its waiter was cancelled meanwhile
                if isinstance(step, Done):
                    future.set_result(step)
                else:
                    waits.append(step.seconds)
            if waits:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=min(waits))
                except asyncio.TimeoutError:
                    pass


_SHARED = weakref.WeakKeyDictionary()  # event loop -> {key: JobStatusPoller}


def shared_poller(key, make_reader):
    """The JobStatusPoller of the running event loop for `key` (e.g. the Job Service URL and the
    caller's authorization: jobs read with other credentials need calls of their own), made by
    `make_reader()` the first time."""
    pollers = _SHARED.setdefault(asyncio.get_running_loop(), {})
    if key not in pollers:
        pollers[key] = JobStatusPoller(make_reader())
    return pollers[key]
