# syntax=docker/dockerfile:1
# Build a static warden binary, then ship it alone on a distroless base that
# runs as a non-root user.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/wardenproject/warden/internal/cli.Version=${VERSION}" \
      -o /out/warden ./cmd/warden \
 && mkdir -m 0700 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/warden /usr/local/bin/warden
COPY --from=build --chown=65532:65532 /out/data /var/lib/warden
# The data directory holds the vault; mount a volume here. Supply the master
# key with WARDEN_MASTER_KEY_FILE (a mounted secret) or WARDEN_PASSPHRASE.
ENV WARDEN_DATA_DIR=/var/lib/warden
WORKDIR /var/lib/warden
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/warden"]
CMD ["serve", "--addr", "0.0.0.0:8080"]
