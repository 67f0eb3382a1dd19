# syntax=docker/dockerfile:1
# Cocoon, the bare-metal provisioner, as a container image.
#   docker compose up -d          (docker-compose.yml: host networking, capabilities, volumes)
# See docs/quick-start.md. The image holds no state: the config is mounted read-only and the
# cluster directory, images and runtime files live in volumes.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
ENV CI=true
# pnpm as in package.json's packageManager field and .ci/run.
RUN npm install -g pnpm@10.34.9 && pnpm --version
WORKDIR /src
# Dependencies first (only the lockfile), so code changes do not refetch the registry.
COPY pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
RUN pnpm fetch
COPY . .
RUN pnpm install --offline --frozen-lockfile
RUN pnpm build
RUN sh scripts/assemble-release.sh /opt/cocoon

# ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ARG COCOON_UID=10001
# dnsmasq-base: DHCP/PXE/TFTP (no service is installed); ipxe: /usr/lib/ipxe/{undionly.kpxe,ipxe.efi};
# tini: PID 1 that forwards signals and reaps (dnsmasq is the server's child).
# dnsmasq gets exactly the three capabilities DHCP and TFTP need as file capabilities, so the
# server itself runs unprivileged; the container must still be granted them (cap_add), and
# no-new-privileges must stay off, or the kernel will not honour file capabilities.
RUN apt-get update \
 && apt-get install -y --no-install-recommends dnsmasq-base ipxe tini libcap2-bin \
 && setcap cap_net_bind_service,cap_net_admin,cap_net_raw+ep /usr/sbin/dnsmasq \
 && apt-get purge -y libcap2-bin \
 && apt-get autoremove -y \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid "${COCOON_UID}" cocoon \
 && useradd --system --uid "${COCOON_UID}" --gid cocoon --home-dir /var/lib/cocoon --no-create-home --shell /usr/sbin/nologin cocoon \
 && install -d -m 0755 /etc/cocoon /etc/cocoon/templates /var/lib/cocoon \
 && install -d -o cocoon -g cocoon -m 0750 /var/lib/cocoon/cluster /var/lib/cocoon/images /var/lib/cocoon/state

COPY --from=build /opt/cocoon /opt/cocoon
COPY deploy/config.yaml /etc/cocoon/config.yaml

ENV NODE_ENV=production \
    PATH=/opt/cocoon/bin:$PATH \
    COCOON_CONFIG=/etc/cocoon/config.yaml \
    COCOON_HEALTH_URL=http://127.0.0.1:4080/healthz

USER cocoon:cocoon
WORKDIR /var/lib/cocoon
VOLUME ["/var/lib/cocoon/cluster", "/var/lib/cocoon/images", "/var/lib/cocoon/state"]
# API, boot HTTP, DHCP, TFTP (documentation only: the compose file uses host networking).
EXPOSE 4080/tcp 4081/tcp 67/udp 69/udp

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "/opt/cocoon/scripts/healthcheck.mjs"]
ENTRYPOINT ["/usr/bin/tini", "--", "/opt/cocoon/scripts/cocoon-start.sh"]
CMD []
