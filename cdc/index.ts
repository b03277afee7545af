export { type CdcBridge, type CdcBridgeConfig, cdcTopic, startCdcBridge } from './bridge.ts';
export { type BridgedRecord, bridgeRecord, inventoryEventOf } from './change-event.ts';
