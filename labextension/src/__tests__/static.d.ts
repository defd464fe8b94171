/** The live tree (`kernel_magics/static/outline.js`), mapped by jest.config.js. */
declare module '@warp-static/outline.js' {
  export const plural: (n: number, one: string, many?: string) => string;
  export const count: (n: number, what: string) => string;
  export const shortNumber: (n: number) => string;
  export const sectionNumber: (position: string) => string;
  export const stateLabel: (state: string, cursor?: string | null) => string;
  export const isOver: (status: string) => boolean;
  export const runMeta: (run: any) => string;
  export const runMetaTitle: (run: any) => string;
  export const emptyOutline: (status: string) => string;
  export const summarize: (outline: any) => any;
  export const LOCKED_UNWRITTEN: string;
  export const LIVE_EVENT: string;
  const widget: { render: (props: { model: any; el: HTMLElement }) => () => void };
  export default widget;
}
