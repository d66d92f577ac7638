"""`linkgraph serve`: a long-running process that owns the index and the frontier's Redis, runs
crawl jobs in worker processes it supervises, and answers an HTTP API (aiohttp).

- service.py: the Service, what the API steers: jobs submitted, paused, resumed, stopped;
- runs.py: one run of a job, its worker processes and the thread storing what they hand over;
- app.py: the aiohttp application, its token check, health routes and OpenAPI document;
- jobs_api.py: the /api/jobs routes; metrics.py: /metrics in Prometheus text;
- openapi.py: the OpenAPI document of those routes; submission.py: a POSTed job, checked;
- reads.py: /api/sql and the reports; owner.py: the owner file through which the CLI finds the
  index's owner; readserver.py: the reads a plain `linkgraph crawl` serves;
- dashboard.py and static/: the dashboard; schedule.py: recurring re-crawls and their alerts.
"""
