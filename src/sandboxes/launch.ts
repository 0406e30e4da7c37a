/**
 * Starting a new sandbox: a container of the chosen image with the dev-sync mounts (read-only), the
 * pnpm store volume, `host.docker.internal` pointing at the host, the env, our labels, and the
 * image's declared ports published on a free block of host ports. Name and port clashes with another
 * `run` at the same moment are settled by the engine (a taken name fails the create, a taken port
 * the start) and retried with the next name or block.
 */
import { createServer } from "node:net";
import type Docker from "dockerode";
import { engine, engineError, engineMessage, engineUsage, listSandboxes, statusOf } from "./docker.js";
import { SandboxError } from "./errors.js";
import { HOST_ALIAS } from "./env.js";
import type { ChosenImage } from "./image.js";
import { LABELS, MANAGED_BY_VALUE } from "./labels.js";
import { MOUNT_POINTS, type SyncMounts } from "./mounts.js";
import { firstFreeIdentity, type SandboxIdentity } from "./naming.js";
import { chooseBlock, formatBlock, portsOf, publish, type DeclaredPort, type PortRange, type PublishedPort } from "./ports.js";
import { newSyncToken, SYNC_SERVER_PORT, syncServerEnv } from "./sync-server.js";

const MAX_ATTEMPTS = 10;

/** Where `--ca-certs` goes in the sandbox (entry.sh's setup_ca_certs reads the same paths). */
export const CA_CERTS = {
  file: "/etc/iterate-sandbox/ca-certs.pem",
  bundleDir: "/run/iterate-sandbox/ca",
  bundle: "/run/iterate-sandbox/ca/ca-certificates.crt",
} as const;

export interface LaunchPlan {
  project: string;
  /** The sandbox name before a suffix is added to make it unique. */
  name: string;
  image: ChosenImage;
  declaredPorts: DeclaredPort[];
  mounts: SyncMounts | null;
  env: string[];
  pnpmStore: { volume: string; path: string };
  /** npm's cache volume at ~/.npm (filled from the image on first use, like the pnpm store). */
  npmCache: { volume: string; path: string };
  portRange: PortRange;
  hostIp: string;
  /** Extra CA certificates (a PEM file on the host) the sandbox's node, npm, pnpm, git and curl trust. */
  caCerts?: string | undefined;
  /** Seconds the entry point's dependency install may take (SANDBOX_SYNC_TIMEOUT). */
  syncTimeoutSeconds: number;
}

export interface Launched {
  identity: SandboxIdentity;
  id: string;
  ports: PublishedPort[];
  startedAt: string;
}

/** Whether nothing on this host listens on the port (only meaningful when the engine is local). */
function hostPortFree(hostIp: string): (port: number) => Promise<boolean> {
  const dockerHost = process.env.DOCKER_HOST ?? "";
  if (dockerHost !== "" && !dockerHost.startsWith("unix://")) return async () => true;
  return (port) =>
    new Promise((resolve) => {
      const server = createServer();
      server.once("error", () => resolve(false));
      server.listen({ port, host: hostIp, exclusive: true }, () => server.close(() => resolve(true)));
    });
}

function isPortClash(error: unknown): boolean {
  return /port is already allocated|address already in use|bind for .* failed/i.test(engineMessage(error));
}

export function containerSpec(plan: LaunchPlan, identity: SandboxIdentity, ports: PublishedPort[], block: PortRange | undefined): Docker.ContainerCreateOptions {
  const mounts: Docker.MountSettings[] = [];
  if (plan.mounts) {
    mounts.push(
      { Type: "bind", Source: plan.mounts.checkout, Target: MOUNT_POINTS.checkout, ReadOnly: true },
      { Type: "bind", Source: plan.mounts.gitDir, Target: MOUNT_POINTS.gitDir, ReadOnly: true },
      { Type: "bind", Source: plan.mounts.commonDir, Target: MOUNT_POINTS.commonDir, ReadOnly: true },
    );
    if (plan.mounts.excludesFile) mounts.push({ Type: "bind", Source: plan.mounts.excludesFile, Target: MOUNT_POINTS.excludesFile, ReadOnly: true });
  }
  mounts.push({ Type: "volume", Source: plan.pnpmStore.volume, Target: plan.pnpmStore.path });
  mounts.push({ Type: "volume", Source: plan.npmCache.volume, Target: plan.npmCache.path });
  const env = [...plan.env, `SANDBOX_SYNC_TIMEOUT=${plan.syncTimeoutSeconds}`];
  const tmpfs: Record<string, string> = {};
  if (plan.caCerts) {
    // Mounted read-only, never copied into an image; the entry point adds it to the system bundle on a tmpfs.
    mounts.push({ Type: "bind", Source: plan.caCerts, Target: CA_CERTS.file, ReadOnly: true });
    tmpfs[CA_CERTS.bundleDir] = "rw,nosuid,nodev,noexec,size=16m,uid=1000,gid=1000,mode=0755";
    env.push(`NODE_EXTRA_CA_CERTS=${CA_CERTS.file}`, ...["SSL_CERT_FILE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO"].map((name) => `${name}=${CA_CERTS.bundle}`));
  }
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const port of ports) {
    exposed[`${port.port}/tcp`] = {};
    bindings[`${port.port}/tcp`] = [{ HostIp: port.hostIp, HostPort: String(port.hostPort) }];
  }
  // The sync server (sync-server.ts), for a syncing sandbox whose processes leave its port free:
  // a random token in the env, the port on a host port the engine picks (not from the block).
  if (plan.mounts && !plan.declaredPorts.some((port) => port.port === SYNC_SERVER_PORT)) {
    env.push(...syncServerEnv(newSyncToken()));
    exposed[`${SYNC_SERVER_PORT}/tcp`] = {};
    bindings[`${SYNC_SERVER_PORT}/tcp`] = [{ HostIp: plan.hostIp, HostPort: "" }];
  }
  return {
    name: identity.container,
    Hostname: identity.container,
    Image: plan.image.reference,
    Env: env,
    ExposedPorts: exposed,
    Labels: {
      [LABELS.managedBy]: MANAGED_BY_VALUE,
      [LABELS.project]: identity.project,
      [LABELS.name]: identity.name,
      [LABELS.hostPorts]: formatBlock(block),
      [LABELS.ports]: JSON.stringify(ports),
      [LABELS.checkout]: plan.mounts?.checkout ?? "",
      [LABELS.image]: plan.image.reference,
    },
    HostConfig: {
      Mounts: mounts,
      PortBindings: bindings,
      ExtraHosts: [`${HOST_ALIAS}:host-gateway`],
      ...(Object.keys(tmpfs).length > 0 && { Tmpfs: tmpfs }),
    },
  };
}

/**
 * Docker's error when two containers created at once fill the same new named volume from the image
 * (e.g. `failed to mkdir /var/lib/docker/volumes/<v>/_data/…: file exists`).
 */
export function isVolumeCopyRace(message: string): boolean {
  return /\/volumes\/[^/\s]+\/_data\/\S*: file exists/.test(message) && /failed to (mkdir|copy|chown|lchown|create)/i.test(message);
}

/** Removes NAME when it is a container of ours that was created and never started (nothing ran in it). */
async function removeIfOurCreated(docker: Docker, name: string): Promise<void> {
  const info = await docker.getContainer(name).inspect().catch(() => null);
  if (!info || info.Config.Labels?.[LABELS.managedBy] !== MANAGED_BY_VALUE || info.State.Status !== "created") return;
  await docker.getContainer(name).remove({ force: true }).catch(() => undefined);
}

/** Creates and starts the container (not waiting for readiness). */
export async function launch(docker: Docker, plan: LaunchPlan): Promise<Launched> {
  const triedNames = new Set<string>();
  const badPorts = new Set<number>();
  let nameFrom = 0;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const [usage, ours] = await Promise.all([engineUsage(docker), listSandboxes(docker)]);
    const held = new Set([...portsOf(ours.map((sandbox) => sandbox.block)), ...usage.publishedPorts, ...badPorts]);
    const block = await chooseBlock(plan.declaredPorts.length, plan.portRange, held, hostPortFree(plan.hostIp));
    if (plan.declaredPorts.length > 0 && !block) {
      throw new SandboxError(
        `no free block of ${plan.declaredPorts.length} host port(s) in ${formatBlock(plan.portRange)}: other sandboxes (stopped ones too) or programs hold them. ` +
          `Remove sandboxes you do not need (sandbox ls, sandbox rm) or give another --port-range.`,
      );
    }
    const ports = publish(plan.declaredPorts, block, plan.hostIp);
    const { identity, attempt: nameAttempt } = firstFreeIdentity(plan.project, plan.name, new Set([...usage.names, ...triedNames]), nameFrom);

    let container: Docker.Container;
    try {
      container = await docker.createContainer(containerSpec(plan, identity, ports, block));
    } catch (error) {
      if (isVolumeCopyRace(engineMessage(error))) {
        // Sandboxes started at once with a new store volume: the engine fills it from the image for
        // each, and all but one fail. Once one has filled it, the others find it full.
        await removeIfOurCreated(docker, identity.container);
        await new Promise((resolve) => setTimeout(resolve, 500 * (attempt + 1)));
        continue;
      }
      if (statusOf(error) === 409) {
        // Another container took the name since the listing: try the next one.
        triedNames.add(identity.container);
        nameFrom = nameAttempt + 1;
        continue;
      }
      throw engineError(error, `creating the sandbox ${identity.container}`);
    }
    try {
      await container.start();
    } catch (error) {
      await container.remove({ force: true, v: true }).catch(() => undefined);
      if (isPortClash(error) && block) {
        // Something took a port of the block since the check: leave the block out and try again.
        for (const port of portsOf([block])) badPorts.add(port);
        continue;
      }
      throw engineError(error, `starting the sandbox ${identity.container}`);
    }
    const info = await engine(`inspecting ${identity.container}`, () => container.inspect());
    return { identity, id: container.id, ports, startedAt: info.State.StartedAt };
  }
  throw new SandboxError(`could not start a sandbox after ${MAX_ATTEMPTS} attempts: names or ports kept being taken by others starting at the same time; try again`);
}
