// The WebAssembly codec libraries, loaded once per worker on first use. They are emscripten
// builds shipped as CommonJS, which find their .wasm file beside themselves; their printf
// output (openjpeg and openjph report errors only that way) is captured into `messages` so
// that a failed frame can say why.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** What an emscripten-bound decoder class of these packages offers (the parts we use). */
export interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned?: boolean; isUsingColorTransform?: boolean };
  delete(): void;
  getInterleaveMode?(): number;
  getImageOffset?(): { x: number; y: number };
  getColorSpace?(): number;
  getDownSample?(component: number): { x: number; y: number };
  /** CharLS: the NEAR parameter of the scans (0: lossless). */
  getNearLossless?(): number;
  /** OpenJPEG, OpenJPH: whether the wavelet is the reversible 5-3 one. */
  getIsReversible?(): boolean;
}

type DecoderClass = new () => WasmDecoder;

const PACKAGES = {
  'libjpeg-turbo': { module: '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs', cls: 'JPEGDecoder' },
  charls: { module: '@cornerstonejs/codec-charls/decodewasmjs', cls: 'JpegLSDecoder' },
  openjpeg: { module: '@cornerstonejs/codec-openjpeg/decodewasmjs', cls: 'J2KDecoder' },
  openjph: { module: '@cornerstonejs/codec-openjph/wasmjs', cls: 'HTJ2KDecoder' },
} as const;

export type Library = keyof typeof PACKAGES;

/** Lines the libraries printed since the last `clearMessages`. */
export const messages: string[] = [];
export const clearMessages = (): void => {
  messages.length = 0;
};
const capture = (line: string): void => {
  // Progress lines ([INFO] of openjpeg) say nothing about a failure.
  if (messages.length < 20 && !String(line).startsWith('[INFO]')) messages.push(String(line).trim());
};

const loaded = new Map<Library, Promise<DecoderClass>>();

/** The decoder class of a library, instantiating its WebAssembly module the first time. */
export function decoderClass(lib: Library): Promise<DecoderClass> {
  let p = loaded.get(lib);
  if (!p) {
    const { module, cls } = PACKAGES[lib];
    const factory = require(module) as (opts: object) => Promise<Record<string, unknown>>;
    p = factory({ print: capture, printErr: capture }).then((m) => m[cls] as DecoderClass);
    loaded.set(lib, p);
    // A module that failed to instantiate (a passing WebAssembly allocation failure) is tried afresh next time.
    p.catch(() => loaded.delete(lib));
  }
  return p;
}

/**
 * Forgets a library's module after it threw: a C++ exception or an abort may leave its memory
 * in any state, so the next frame gets a fresh instance.
 */
export function discard(lib: Library): void {
  loaded.delete(lib);
}
