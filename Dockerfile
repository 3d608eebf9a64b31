# syntax=docker/dockerfile:1
# Usage: docker build -t schoolict:latest .      (or: docker compose build)
#        docker run --rm schoolict:latest schoolict --help
# One image holds all executables; the container's command picks the worker (default SubmissionWorker).
# Swift 6.2 or later: Hummingbird 2.28 and swift-otel 1.6 are swift-tools-version 6.2 packages.
ARG SWIFT_IMAGE=swift:6.2-bookworm

FROM ${SWIFT_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      librabbitmq-dev libpq-dev libcurl4-openssl-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so that this layer is cached while only sources change.
COPY Package.swift Package.resolved* ./
RUN swift package resolve
COPY Sources ./Sources
# The manifest declares test targets; SwiftPM wants their folders to exist.
COPY Tests ./Tests
RUN swift build -c release --static-swift-stdlib \
 && mkdir /out \
 && bin=$(swift build -c release --show-bin-path) \
 && for exe in SubmissionWorker AllocationWorker NotificationWorker schoolict; do \
      install -m 755 "$bin/$exe" /out/; \
    done

FROM debian:bookworm-slim
# tzdata: campaigns use IANA time zones (Europe/Athens, Asia/Ho_Chi_Minh).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      librabbitmq4 libpq5 libcurl4 ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin schoolict
COPY --from=build /out/ /usr/local/bin/
USER schoolict
ENV METRICS_PORT=9090 METRICS_HOST=0.0.0.0
EXPOSE 9090
CMD ["SubmissionWorker"]
