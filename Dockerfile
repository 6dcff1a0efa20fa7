# The cra image for Docker users: the same single layer deploy/image/build.sh writes (CI builds
# the image with that script, offline; this file is for those who build with Docker).
#
#   docker build -t cra .
#   docker run cra agent | client | server
#
# Stage 1 builds the static binary and writes the image's root file system with the same
# deploy/image/rootfs.py; stage 2 is that root and nothing else.
FROM docker.io/library/rust:1-bookworm AS build
ARG SOURCE_DATE_EPOCH=0
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN bin=$(CARGO_TARGET_DIR=/target deploy/image/build-binary.sh) \
 && python3 deploy/image/rootfs.py --binary "$bin" \
      --ca-bundle /etc/ssl/certs/ca-certificates.crt \
      --epoch "${SOURCE_DATE_EPOCH:-0}" /layer.tar \
 && mkdir /rootfs \
 && tar -xpf /layer.tar -C /rootfs --numeric-owner

FROM scratch
COPY --from=build /rootfs/ /
USER 10001:10001
ENV PATH=/usr/local/bin \
    CRA_STATE_DIR=/var/lib/cra \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
EXPOSE 17500/tcp 7341/tcp
ENTRYPOINT ["/usr/local/bin/cra"]
CMD ["agent"]
