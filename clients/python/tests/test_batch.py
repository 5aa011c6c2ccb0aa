"""Waiting on many jobs with GetJobStatuses (armada_jobservice.batch), against the live Job Service and
the Armada simulator, and against a stand-in for an older server that lacks it."""
import asyncio
import time

from armada_jobservice import JobServiceClient, JobStatusPoller, PollPolicy, StatusReader, TrackedJob, wait_for_jobs

from conftest import QUEUE
from helpers import AUTHORIZATION, RecordingClient, armada, jobservice_client, rpc_calls

FAST = PollPolicy(interval=0.05, not_found_timeout=30)
OUTCOMES = [
    ({"armada-sim/duration-ms": "100"}, "SUCCEEDED"),
    ({"armada-sim/duration-ms": "300"}, "SUCCEEDED"),
    ({"armada-sim/exit-code": "1", "armada-sim/reason": "bad input", "armada-sim/duration-ms": "50"}, "FAILED"),
    ({"armada-sim/outcome": "cancelled", "armada-sim/duration-ms": "200"}, "CANCELLED"),
    ({"armada-sim/duration-ms": "500"}, "SUCCEEDED"),
]


def submit_all(armada_url, job_set_id, outcomes=OUTCOMES):
    client = armada(armada_url)
    return [TrackedJob(QUEUE, job_set_id, client.submit(QUEUE, job_set_id, {"annotations": annotations}), time.time()) for annotations, _ in outcomes]


def test_many_jobs_are_waited_on_with_one_get_job_statuses_call_per_round(armada_url, jobservice):
    jobs = submit_all(armada_url, "batch-many")
    sleeps = []
    before = {method: rpc_calls(jobservice, method) for method in ("GetJobStatus", "GetJobStatuses")}
    done = wait_for_jobs(jobservice_client(jobservice), jobs, FAST, sleep=lambda s: (sleeps.append(s), time.sleep(s)))
    assert {job.job_id: done[job.job_id].state for job in jobs} == {job.job_id: state for job, (_, state) in zip(jobs, OUTCOMES)}
    assert "ended FAILED: bad input" in done[jobs[2].job_id].message
    rounds = len(sleeps) + 1
    assert rounds > 1, "the jobs were still running at the first round"
    assert rpc_calls(jobservice, "GetJobStatuses") - before["GetJobStatuses"] == rounds
    assert rpc_calls(jobservice, "GetJobStatus") == before["GetJobStatus"]


def test_each_round_asks_only_about_the_jobs_still_running_one_call_per_job_set(armada_url, jobservice):
    jobs = submit_all(armada_url, "batch-set-a", OUTCOMES[:2]) + submit_all(armada_url, "batch-set-b", OUTCOMES[2:])
    client = RecordingClient(jobservice_client(jobservice))
    done = wait_for_jobs(client, jobs, FAST)
    assert len(done) == len(jobs)
    assert sorted(set_id for set_id, _ in client.batches[:2]) == ["batch-set-a", "batch-set-b"], "the first round asks both job sets"
    for job_set_id, ids in client.batches:
        assert set(ids) <= {job.job_id for job in jobs if job.job_set_id == job_set_id}
    last_call = {}
    for job_set_id, ids in client.batches:
        assert set(ids) <= set(last_call.get(job_set_id, ids)), "a job that ended is not asked about again"
        last_call[job_set_id] = ids


def test_more_jobs_than_the_batch_size_take_several_calls_a_round(armada_url, jobservice):
    jobs = submit_all(armada_url, "batch-chunks")
    client = RecordingClient(jobservice_client(jobservice))
    done = wait_for_jobs(client, jobs, FAST, batch_size=2)
    assert [done[job.job_id].state for job in jobs] == [state for _, state in OUTCOMES]
    assert [len(ids) for _, ids in client.batches[:3]] == [2, 2, 1]
    assert max(len(ids) for _, ids in client.batches) <= 2


def test_against_an_older_server_each_job_is_polled_with_get_job_status(armada_url, older_server):
    older = older_server(["GetJobStatuses", "WatchJobStatus"])
    jobs = submit_all(armada_url, "batch-older", OUTCOMES[:3])
    done = wait_for_jobs(JobServiceClient(older.url, authorization=AUTHORIZATION, timeout=10), jobs, FAST)
    assert [done[job.job_id].state for job in jobs] == [state for _, state in OUTCOMES[:3]]
    methods = older.methods()
    assert methods.count("GetJobStatuses") == 1, "UNIMPLEMENTED is remembered"
    assert methods[0] == "GetJobStatuses" and set(methods[1:]) == {"GetJobStatus"}
    assert len(methods) - 1 >= len(jobs)


def test_a_refused_batch_fails_every_job_of_its_job_set_and_only_those(armada_url, jobservice):
    [good] = submit_all(armada_url, "batch-refused-ok", OUTCOMES[:1])
    refused = [TrackedJob(QUEUE, "batch-refused", "", 0.0), TrackedJob(QUEUE, "batch-refused", "01SOMEJOB", 0.0)]
    done = wait_for_jobs(jobservice_client(jobservice), [good, *refused], FAST)
    assert done[good.job_id].state == "SUCCEEDED"
    for job in refused:
        assert (done[job.job_id].succeeded, done[job.job_id].state) == (False, "ERROR")
        assert "refused the status call" in done[job.job_id].message and "invalid_argument" in done[job.job_id].message


def test_waiters_in_one_event_loop_share_each_round(armada_url, jobservice):
    jobs = submit_all(armada_url, "batch-poller")
    client = RecordingClient(jobservice_client(jobservice))
    poller = JobStatusPoller(StatusReader(client))
    before = rpc_calls(jobservice, "GetJobStatus")

    async def wait_all():
        return await asyncio.gather(*(poller.wait(job, FAST) for job in jobs))

    results = asyncio.run(asyncio.wait_for(wait_all(), timeout=30))
    assert [done.state for done in results] == [state for _, state in OUTCOMES]
    assert client.batches[0] == ("batch-poller", [job.job_id for job in jobs]), "the first round asks about every waiter"
    assert rpc_calls(jobservice, "GetJobStatus") == before


def test_a_cancelled_waiter_leaves_the_rounds_and_the_others_go_on(armada_url, jobservice):
    long_one, *others = submit_all(armada_url, "batch-cancel", [({"armada-sim/duration-ms": "60000"}, "")] + OUTCOMES[:2])
    client = RecordingClient(jobservice_client(jobservice))
    poller = JobStatusPoller(StatusReader(client))

    async def scenario():
        abandoned = asyncio.ensure_future(poller.wait(long_one, FAST))
        waiting = [asyncio.ensure_future(poller.wait(job, FAST)) for job in others]
        while not client.batches:
            await asyncio.sleep(0.01)
        abandoned.cancel()
        return await asyncio.gather(*waiting)

    results = asyncio.run(asyncio.wait_for(scenario(), timeout=30))
    assert [done.state for done in results] == ["SUCCEEDED", "SUCCEEDED"]
    assert long_one.job_id in client.batches[0][1] and long_one.job_id not in client.batches[-1][1]
