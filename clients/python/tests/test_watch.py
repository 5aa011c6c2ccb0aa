"""Following one job with WatchJobStatus from an event loop (armada_jobservice.watch), against the live
Job Service and the Armada simulator: the service restarting, Armada's streams dropping, a server
without watches, the not-found deadline."""
import asyncio
import time

import pytest

from armada_jobservice import JobServiceClient, PollPolicy, TrackedJob, cancel_job, watch_for_job_async
from armada_jobservice.watch import reconnect_delay, watch_timeout

from conftest import QUEUE
from helpers import AUTHORIZATION, armada, in_background, jobservice_client, metric, rpc_calls, simulator_control, until

# Polls (when it comes to that) every 50 ms; the not-found deadline far away, so one watch lasts its whole period.
WATCHING = PollPolicy(interval=0.05)


def submit(armada_url, job_set_id, annotations):
    return TrackedJob(QUEUE, job_set_id, armada(armada_url).submit(QUEUE, job_set_id, {"annotations": annotations}), time.time())


def test_the_wait_ends_on_the_watch_with_no_status_poll(armada_url, jobservice):
    job = submit(armada_url, "watch-success", {"armada-sim/duration-ms": "200"})
    before = {method: rpc_calls(jobservice, method) for method in ("GetJobStatus", "WatchJobStatus")}
    states = []
    done = asyncio.run(asyncio.wait_for(watch_for_job_async(jobservice_client(jobservice), job, WATCHING, on_status=lambda s: states.append(s.state)), timeout=20))
    assert done.state == "SUCCEEDED" and "RUNNING" in states
    assert rpc_calls(jobservice, "WatchJobStatus") - before["WatchJobStatus"] == 1
    assert rpc_calls(jobservice, "GetJobStatus") == before["GetJobStatus"]


def test_a_watch_spans_the_services_reconnect_to_armada(armada_url, jobservice):
    job = submit(armada_url, "watch-drop", {"armada-sim/duration-ms": "60000"})
    before = {method: rpc_calls(jobservice, method) for method in ("GetJobStatus", "WatchJobStatus")}
    reconnects = metric(jobservice, "jobservice_armada_reconnects_total")
    states = []
    waiting = in_background(lambda: watch_for_job_async(jobservice_client(jobservice), job, WATCHING, on_status=lambda s: states.append(s.state)))
    until(lambda: "RUNNING" in states)
    simulator_control(armada_url, "/control/drop-streams", {"code": "unavailable"})
    until(lambda: metric(jobservice, "jobservice_armada_reconnects_total") > reconnects)
    assert cancel_job(armada(armada_url), job, "the test is done") == [job.job_id]
    assert waiting.result(timeout=30).state == "CANCELLED"
    assert rpc_calls(jobservice, "WatchJobStatus") - before["WatchJobStatus"] == 1, "one watch, across the reconnect"
    assert rpc_calls(jobservice, "GetJobStatus") == before["GetJobStatus"]


def test_a_watch_spans_a_restart_of_the_service(armada_url, jobservice):
    job = submit(armada_url, "watch-restart", {"armada-sim/duration-ms": "60000"})
    states = []
    waiting = in_background(lambda: watch_for_job_async(jobservice_client(jobservice), job, WATCHING, on_status=lambda s: states.append(s.state)))
    until(lambda: "RUNNING" in states)
    jobservice.stop()
    try:
        until(lambda: states[-1] == "CONNECTION_ERR" and states.count("CONNECTION_ERR") >= 2)
    finally:
        jobservice.start()
    assert cancel_job(armada(armada_url), job, "the test is done") == [job.job_id]
    assert waiting.result(timeout=30).state == "CANCELLED"
    # The restarted process has counted only the watch's reconnection.
    assert rpc_calls(jobservice, "WatchJobStatus") >= 1 and rpc_calls(jobservice, "GetJobStatus") == 0


def test_a_server_without_watches_is_polled(armada_url, older_server):
    older = older_server(["WatchJobStatus"])
    job = submit(armada_url, "watch-older", {"armada-sim/duration-ms": "100"})
    client = JobServiceClient(older.url, authorization=AUTHORIZATION, timeout=10)
    done = asyncio.run(asyncio.wait_for(watch_for_job_async(client, job, WATCHING), timeout=20))
    assert done.state == "SUCCEEDED"
    assert older.methods()[0] == "WatchJobStatus" and set(older.methods()[1:]) == {"GetJobStatus"}


def test_job_id_not_found_fails_the_wait_once_the_deadline_from_submission_has_passed(jobservice):
    # Submitted 9 s "ago" with a 10 s limit: the watch's deadline is cut to the not-found deadline.
    job = TrackedJob(QUEUE, "watch-missing", "01NOSUCHJOB0000000000000000", submitted_at=time.time() - 9)
    before = rpc_calls(jobservice, "GetJobStatus")
    done = asyncio.run(asyncio.wait_for(watch_for_job_async(jobservice_client(jobservice), job, PollPolicy(interval=30, not_found_timeout=10)), timeout=20))
    assert (done.succeeded, done.state) == (False, "JOB_ID_NOT_FOUND")
    assert "(limit 10 s)" in done.message
    assert rpc_calls(jobservice, "GetJobStatus") == before


def test_a_refused_watch_fails_the_wait(jobservice):
    job = TrackedJob(QUEUE, "watch-refused", "", 0.0)
    done = asyncio.run(asyncio.wait_for(watch_for_job_async(jobservice_client(jobservice), job, WATCHING), timeout=20))
    assert (done.succeeded, done.state) == (False, "ERROR")
    assert "refused the watch" in done.message and "invalid_argument" in done.message


def test_cancelling_the_wait_closes_its_watch(jobservice):
    open_before = metric(jobservice, "jobservice_watches_open")
    job = TrackedJob(QUEUE, "watch-cancelled", "01NOSUCHJOB0000000000000000", time.time())

    async def scenario():
        waiting = asyncio.ensure_future(watch_for_job_async(jobservice_client(jobservice), job, WATCHING))
        while await asyncio.to_thread(metric, jobservice, "jobservice_watches_open") != open_before + 1:
            await asyncio.sleep(0.02)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting

    asyncio.run(asyncio.wait_for(scenario(), timeout=20))
    assert until(lambda: metric(jobservice, "jobservice_watches_open") == open_before)


def test_a_watch_deadline_is_cut_to_the_not_found_deadline_while_that_is_ahead():
    job = TrackedJob("q", "s", "j", submitted_at=1000.0)
    policy = PollPolicy(not_found_timeout=60, watch_period=300)
    assert watch_timeout(job, 1000.0, policy) == 60
    assert watch_timeout(job, 1059.5, policy) == 1.0, "never shorter than a second"
    assert watch_timeout(job, 1061.0, policy) == 300, "past it, only the period counts"


def test_reconnecting_backs_off_doubling_up_to_the_poll_interval():
    policy = PollPolicy(interval=2.0)
    assert [reconnect_delay(n, policy, jitter=lambda: 1.0) for n in range(5)] == [0.25, 0.5, 1.0, 2.0, 2.0]
    assert reconnect_delay(0, policy, jitter=lambda: 0.0) == 0.125
