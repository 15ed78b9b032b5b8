FROM golang:1.26 AS build
WORKDIR /src
COPY . .
ARG GOFLAGS
RUN go build -o /datastorage ./cmd/datastorage

FROM gcr.io/distroless/static
COPY --from=build /datastorage /datastorage
ENTRYPOINT ["/datastorage"]
