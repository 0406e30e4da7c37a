#!/usr/bin/env bash
# Installs the agent CLIs AGENT_CLIS names (space-separated npm specs) globally with npm, as root.
# Their own install scripts run (they fetch or link the CLI's platform binary): npm versions with an
# install-script policy (`allow-scripts`) get exactly the named packages allowed.
set -euo pipefail

read -r -a specs <<<"${AGENT_CLIS:-}"
if [[ "${#specs[@]}" -eq 0 ]]; then
  echo "[agent-clis] AGENT_CLIS is empty: no agent CLIs installed" >&2
  exit 0
fi

names=()
for spec in "${specs[@]}"; do
  if [[ "$spec" == @* ]]; then rest="${spec#@}"; names+=("@${rest%%@*}"); else names+=("${spec%%@*}"); fi
done
args=(install --global --no-audit --no-fund --loglevel=warn)
if [[ "$(npm config get allow-scripts 2>/dev/null)" != undefined ]]; then
  args+=("--allow-scripts=$(IFS=,; echo "${names[*]}")")
fi
npm "${args[@]}" "${specs[@]}"
npm ls --global --depth=0 "${names[@]}"
