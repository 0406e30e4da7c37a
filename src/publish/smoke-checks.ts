// The smoke checks live with the shared rules so the Dagger module runs the same list (with withExec).
export * from "../../dagger/src/rules/smoke-checks.js";
