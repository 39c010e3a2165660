export { MeterLink, type MeterLinkOptions } from "./meter-link.js";
export { SerialPortTransport, type SerialPortTransportOptions } from "./serialport-transport.js";
export type { MeterTransport, TransportHandlers } from "./transport.js";
