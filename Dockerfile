# The same image as `npm run build:image`, with a container engine:
#   docker build -t armada-jobservice:0.1.0 .
# Stage 1 builds the Bun single binary and lays out the root filesystem from
# deploy/image/image.json; stage 2 is that filesystem alone on `scratch`. The
# run settings below must match image.json (test/image/dockerfile.test.ts).
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build:binary && node --import tsx deploy/image/stage-rootfs.ts /rootfs

FROM scratch
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
COPY --from=build /rootfs/ /
USER 65532:65532
WORKDIR /
ENV JOBSERVICE_HOST=0.0.0.0 \
    JOBSERVICE_PORT=60003 \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
EXPOSE 60003/tcp
STOPSIGNAL SIGTERM
LABEL org.opencontainers.image.title="armada-jobservice" \
      org.opencontainers.image.description="A pollable job-status API for Armada: GetJobStatus over gRPC, gRPC-Web and Connect on one port" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
ENTRYPOINT ["/usr/local/bin/jobservice"]
CMD ["serve"]
