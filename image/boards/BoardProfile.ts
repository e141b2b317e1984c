import type { z } from "zod";
import type { boardProfileSchema, unlockMethodSchema } from "./schema.js";

/**
 * A board profile, as the schema in ./schema.ts defines it (each field is
 * documented there). Written once: the type is inferred from the schema, so
 * a field added to one cannot be missing from the other.
 */
export type BoardProfile = z.infer<typeof boardProfileSchema>;

export type UnlockMethod = z.infer<typeof unlockMethodSchema>;

export type UefiBoot = Extract<BoardProfile["boot"], { kind: "uefi" }>;

export type RaspberryPiBoot = Extract<BoardProfile["boot"], { kind: "raspberrypi" }>;
