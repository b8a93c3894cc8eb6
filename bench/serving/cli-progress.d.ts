// The part of cli-progress 3 this bench uses (the package ships no type declarations).
declare module "cli-progress" {
  export interface Options {
    format?: string;
    stream?: NodeJS.WritableStream;
    noTTYOutput?: boolean;
    notTTYSchedule?: number;
    hideCursor?: boolean;
  }
  export class SingleBar {
    constructor(opts: Options, preset?: unknown);
    start(total: number, startValue: number, payload?: Record<string, unknown>): void;
    increment(step?: number, payload?: Record<string, unknown>): void;
    stop(): void;
  }
  export const Presets: { shades_classic: unknown };
}
