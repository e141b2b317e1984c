import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { detectHardware } from "../../hardware/detectHardware.js";
import { probeEngineGpu } from "../../hardware/probeEngineGpu.js";
import { tune } from "../../hardware/tune.js";

const fixture = (n: string): string => join(import.meta.dirname, "..", "fixtures", "hardware", n);

describe("probeEngineGpu: node-llama-cpp's GPU build, loaded for real in a child process", () => {
  it("nothing to probe without a CUDA GPU", async () => {
    expect(await probeEngineGpu((await detectHardware({ root: fixture("container-2cpu") })).facts)).toBeNull();
    expect(await probeEngineGpu((await detectHardware({ root: fixture("rpi5-8gb") })).facts)).toBeNull();
  });

  it("a CUDA GPU in the facts makes it try the CUDA build; where it does not load, tune() keeps the layers on the CPU and says why", async () => {
    // The recorded Ryzen has an RTX 3060; this machine has no NVIDIA driver, so the real CUDA prebuilt must fail to load here.
    const report = await detectHardware({ root: fixture("x86-ryzen7-5800x-smt"), probeEngine: true });
    const probed = report.facts.gpu;
    expect(probed.kind).toBe("cuda");
    if (probed.usable) {
      // On a machine with a working CUDA runtime the same probe succeeds: then the layers go to the GPU.
      expect(probed.backend).toBe("cuda");
      expect(tune(report.facts).gpuLayers.value).toBeGreaterThan(0);
      return;
    }
    expect(probed.backend).toBeNull();
    expect(probed.note).toMatch(/CUDA build did not load/);
    const t = tune(report.facts);
    expect(t.gpuLayers.value).toBe(0);
    expect(t.gpuBackend).toMatchObject({ value: "cpu" });
    expect(t.gpuBackend.reason).toMatch(/did not load/);
  }, 90_000);
});
