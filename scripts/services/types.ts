export interface ServiceState {
  name: string;
  /** started | running | external | stopped | down | ... */
  state: string;
  detail: string;
}
