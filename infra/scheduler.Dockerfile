# localbridge running the Chalice app against a mounted data/ (docker-compose's
# `scheduler`). Build context: the repository root.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 AWS_DEFAULT_REGION=us-east-1
WORKDIR /app

# Only what the scheduler and the jobs import, at the versions the lock file pins.
COPY requirements.lock ./
RUN pip install --no-cache-dir --constraint requirements.lock \
        chalice boto3 requests cron-descriptor prometheus-client

COPY app.py ./
COPY .chalice/config.json .chalice/config.json
COPY functions/ functions/
COPY localbridge/ localbridge/
COPY data/ data/

EXPOSE 3001
CMD ["python", "-m", "localbridge", "run", "--stage", "local", "--host", "0.0.0.0"]
