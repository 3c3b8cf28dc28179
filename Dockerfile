# Builds and runs taskd the way the scripts do, on Debian 12. The build stage starts from
# Node's Debian 12 image because the UI build needs Node >= 20.19 (Debian ships 18).
FROM node:20-bookworm AS build
WORKDIR /src
ENV TASKD_SETUP_NO_BROWSER=1
COPY scripts/setup.sh scripts/setup.sh
COPY ui/package.json ui/package-lock.json ui/
RUN apt-get update -qq && scripts/setup.sh
COPY . .
RUN rm -rf build && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DTASKD_INTEGRATION_TESTS=OFF && cmake --build build --target taskd

FROM debian:12
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      libcaf-core0.17 libboost-json1.81.0 libspdlog1.10 libtomlplusplus3 \
      libprometheus-cpp-core1.0 libpqxx-6.4 libhiredis0.14 libssl3 \
      libsnappy1v5 liblz4-1 libzstd1 libbz2-1.0 zlib1g \
      espeak-ng sox jq util-linux ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/build/taskd /usr/local/bin/taskd
COPY scripts/examples scripts/examples
VOLUME /app/data
EXPOSE 8080
# 0.0.0.0 inside the container needs an API token (docker run -e TASKD_API_TOKEN=...);
# without one taskd refuses to start and says so. --insecure lifts that, knowingly.
ENTRYPOINT ["taskd", "--listen", "0.0.0.0:8080", "--data-dir", "/app/data"]
