/** The part of pngjs 5 (no types of its own) that image.ts and its tests use. */
declare module 'pngjs' {
  interface Image {
    width: number;
    height: number;
    data: Buffer;
  }
  export const PNG: {
    new (options: { width: number; height: number }): Image;
    sync: {
      read(buffer: Buffer): Image;
      write(image: Image): Buffer;
    };
  };
}
