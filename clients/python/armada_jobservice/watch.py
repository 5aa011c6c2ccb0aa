"""Following one job with WatchJobStatus from an event loop (the deferrable trigger): the answer that
ends the wait comes the moment the service has it, with no poll at all.

Same outcomes as polling (job.next_step): the terminal states, the not-found deadline counted from
the submission, a refused call failing the wait. A stream that breaks (connection lost, the service
restarting) is opened again with backoff; a server without the method (UNIMPLEMENTED) is polled.
"""
import asyncio
import random
import threading
import time

from .client import JobStatus
from .errors import JobServiceError
from .job import Done, PollPolicy, next_step, step_after, wait_for_job_async

# Backoff between reopenings of a broken watch: doubling from this, capped at the poll interval.
FIRST_RECONNECT_SECONDS = 0.25
# A watch is never opened with a shorter deadline, however near the not-found deadline is.
SHORTEST_WATCH_SECONDS = 1.0


def watch_timeout(job, now, policy):
    """The deadline for the next watch: policy.watch_period, cut to the job's not-found deadline while
    that is ahead, so that a JOB_ID_NOT_FOUND answer is looked at again when it runs out."""
    left = job.submitted_at + policy.not_found_timeout - now
    if left <= 0:
        return policy.watch_period
    return max(SHORTEST_WATCH_SECONDS, min(policy.watch_period, left))


def reconnect_delay(failures, policy, jitter=random.random):
    """Seconds before reopening after `failures` broken watches in a row: doubling, capped at the poll
    interval (never slower than polling would ask), each between half and all of it so that the
    triggers of a restarted service do not all come back in the same instant."""
    return min(policy.interval, FIRST_RECONNECT_SECONDS * 2 ** failures) * (0.5 + jitter() / 2)


async def answers_in_thread(watch):
    """A JobStatusWatch's answers in the event loop. The blocking reads run on a thread of the watch's
    own, not the loop's shared executor: a watch lasts as long as its job, and a triggerer's hundreds
    of them would starve every other to_thread call. Closing the watch ends the thread."""
    loop = asyncio.get_running_loop()
    inbox = asyncio.Queue()

    def deliver(item):
        try:
            loop.call_soon_threadsafe(inbox.put_nowait, item)
        except RuntimeError:
            pass  # the loop has closed: nobody waits for this watch any more

    def pump():
        try:
            for status in watch:
                deliver((status, None))
            deliver((None, None))
        except Exception as error:  # noqa: BLE001 - raised again in the loop, where the caller is
            deliver((None, error))

    threading.Thread(target=pump, name="armada-jobservice-watch", daemon=True).start()
    while True:
        status, error = await inbox.get()
        if error is not None:
            raise error
        if status is None:
            return
        yield status


async def watch_for_job_async(jobservice, job, policy=PollPolicy(), clock=time.time, on_status=None, poll=None, jitter=random.random):
    """Follows the job with WatchJobStatus until it ends; returns Done. `on_status(JobStatus)` sees
    every transient answer, and a CONNECTION_ERR for each broken watch. Against a server that answers
    the watch UNIMPLEMENTED, returns `await poll()` (default: job.wait_for_job_async)."""
    failures = 0
    while True:
        watch = jobservice.watch_job_status(job.queue, job.job_set_id, job.job_id, timeout=watch_timeout(job, clock(), policy))
        answered = False
        ended = JobServiceError("unknown", "the watch ended before the job did")
        try:
            async for status in answers_in_thread(watch):
                answered, failures = True, 0
                step = next_step(status, job, clock(), policy)
                if isinstance(step, Done):
                    return step
                if on_status is not None:
                    on_status(status)
        except JobServiceError as error:
            ended = error
        finally:
            watch.close()
        if ended.code == "unimplemented":
            return await (poll() if poll is not None else wait_for_job_async(jobservice, job, policy, clock, on_status))
        if not ended.transient:
            return step_after(ended, job, clock(), policy, "watch")
        if answered and ended.code == "deadline_exceeded":
            continue  # the watch ran its time: open the next one at once
        if on_status is not None:
            on_status(JobStatus("CONNECTION_ERR", str(ended)))
        await asyncio.sleep(reconnect_delay(failures, policy, jitter))
        failures += 1
