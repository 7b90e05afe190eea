package main

// The schema: Go types with the JSON field names and the Go types of hcsshim's structs
// (github.com/Microsoft/hcsshim, the hcn package for HCN schema v2 and internal/hns, re-exported
// by the hcsshim package, for HNS v1), written out here by hand from reading those structs at
// commit 7c9ff7f4.
// hcsshim's own files build only for Windows and Debian does not package them, so they cannot be
// imported on this machine.
//
// Conventions of this file:
//   - every field's `json` tag names its JSON key exactly as hcsshim's tag (or, untagged, its Go
//     field name) does; `omitempty` is left out, as it only matters when encoding;
//   - the Go type of each field is the one hcsshim gives it (uint16 stays uint16: range matters);
//   - a named string type listed in enums (enums.go) only takes the values of hcsshim's constants
//     of that type;
//   - the `hnscheck` tag says how to check what hcsshim leaves as json.RawMessage or interface{}:
//       any            any JSON value (hcsshim does not look into it)
//       as=T           a value of the registered type T
//       by=F:TABLE     the struct that TABLE gives for the value of the sibling field F (a
//                      policy's Settings, chosen by its Type)
//       self=F:TABLE   the struct that TABLE gives for the value's own field F (HNS v1 policies,
//                      whose Type sits beside their fields)
//     and, on a string, fmt=NAME: the value format HNS parses there (formats.go).

import (
	"encoding/json"
	"net"
	"reflect"
)

// ---------------------------------------------------------------------------------------------
// HCN (schema v2), package hcn

type SchemaVersion struct {
	Major int `json:"Major"`
	Minor int `json:"Minor"`
}

type ExtraParams struct {
	Resources        json.RawMessage `json:"Resources" hnscheck:"any"`
	SharedContainers json.RawMessage `json:"SharedContainers" hnscheck:"any"`
	LayeredOn        string          `json:"LayeredOn"`
	SwitchGuid       string          `json:"SwitchGuid"`
	UtilityVM        string          `json:"UtilityVM"`
	VirtualMachine   string          `json:"VirtualMachine"`
}

type Health struct {
	Data  interface{} `json:"Data" hnscheck:"any"`
	Extra ExtraParams `json:"Extra"`
}

type RequestType string

// Networks (hcnnetwork.go).

type SubnetFlags uint32

type Route struct {
	NextHop           string `json:"NextHop" hnscheck:"fmt=ip"`
	DestinationPrefix string `json:"DestinationPrefix" hnscheck:"fmt=prefix"`
	Metric            uint16 `json:"Metric"`
}

type Subnet struct {
	IpAddressPrefix string            `json:"IpAddressPrefix" hnscheck:"fmt=prefix"`
	Policies        []json.RawMessage `json:"Policies" hnscheck:"as=SubnetPolicy"`
	Routes          []Route           `json:"Routes"`
	Flags           SubnetFlags       `json:"Flags"`
}

type Ipam struct {
	Type    string   `json:"Type"`
	Subnets []Subnet `json:"Subnets"`
}

type MacRange struct {
	StartMacAddress string `json:"StartMacAddress"`
	EndMacAddress   string `json:"EndMacAddress"`
}

type MacPool struct {
	Ranges []MacRange `json:"Ranges"`
}

type Dns struct {
	Domain     string   `json:"Domain"`
	Search     []string `json:"Search"`
	ServerList []string `json:"ServerList"`
	Options    []string `json:"Options"`
}

type NetworkType string

type NetworkFlags uint32

type HostComputeNetwork struct {
	Id            string          `json:"ID"`
	Name          string          `json:"Name"`
	Type          NetworkType     `json:"Type"`
	Policies      []NetworkPolicy `json:"Policies"`
	MacPool       MacPool         `json:"MacPool"`
	Dns           Dns             `json:"Dns"`
	Ipams         []Ipam          `json:"Ipams"`
	Flags         NetworkFlags    `json:"Flags"`
	Health        Health          `json:"Health"`
	SchemaVersion SchemaVersion   `json:"SchemaVersion"`
}

type NetworkResourceType string

type ModifyNetworkSettingRequest struct {
	ResourceType NetworkResourceType `json:"ResourceType"`
	RequestType  RequestType         `json:"RequestType"`
	Settings     json.RawMessage     `json:"Settings" hnscheck:"by=ResourceType:networkResource"`
}

type PolicyNetworkRequest struct {
	Policies []NetworkPolicy `json:"Policies"`
}

// Endpoints (hcnendpoint.go).

type IpConfig struct {
	IpAddress    string `json:"IpAddress" hnscheck:"fmt=ip"`
	PrefixLength uint8  `json:"PrefixLength"`
}

type EndpointFlags uint32

type HostComputeEndpoint struct {
	Id                   string           `json:"ID"`
	Name                 string           `json:"Name"`
	HostComputeNetwork   string           `json:"HostComputeNetwork"`
	HostComputeNamespace string           `json:"HostComputeNamespace"`
	Policies             []EndpointPolicy `json:"Policies"`
	IpConfigurations     []IpConfig       `json:"IpConfigurations"`
	Dns                  Dns              `json:"Dns"`
	Routes               []Route          `json:"Routes"`
	MacAddress           string           `json:"MacAddress"`
	Flags                EndpointFlags    `json:"Flags"`
	Health               Health           `json:"Health"`
	SchemaVersion        SchemaVersion    `json:"SchemaVersion"`
}

type EndpointResourceType string

type ModifyEndpointSettingRequest struct {
	ResourceType EndpointResourceType `json:"ResourceType"`
	RequestType  RequestType          `json:"RequestType"`
	Settings     json.RawMessage      `json:"Settings" hnscheck:"by=ResourceType:endpointResource"`
}

// hcsshim's fields are guid.GUID, which reads and writes the textual GUID form.
type VmEndpointRequest struct {
	PortId           string `json:"PortId" hnscheck:"fmt=guid"`
	VirtualNicName   string `json:"VirtualNicName"`
	VirtualMachineId string `json:"VirtualMachineId" hnscheck:"fmt=guid"`
}

type PolicyEndpointRequest struct {
	Policies []EndpointPolicy `json:"Policies"`
}

// Namespaces (hcnnamespace.go).

type NamespaceResourceEndpoint struct {
	Id string `json:"ID"`
}

type NamespaceResourceContainer struct {
	Id string `json:"ID"`
}

type NamespaceResourceType string

type NamespaceResource struct {
	Type NamespaceResourceType `json:"Type"`
	Data json.RawMessage       `json:"Data" hnscheck:"by=Type:namespaceResource"`
}

type NamespaceType string

type HostComputeNamespace struct {
	Id            string              `json:"ID"`
	NamespaceId   uint32              `json:"NamespaceId"`
	Type          NamespaceType       `json:"Type"`
	Resources     []NamespaceResource `json:"Resources"`
	SchemaVersion SchemaVersion       `json:"SchemaVersion"`
}

type ModifyNamespaceSettingRequest struct {
	ResourceType NamespaceResourceType `json:"ResourceType"`
	RequestType  RequestType           `json:"RequestType"`
	Settings     json.RawMessage       `json:"Settings" hnscheck:"by=ResourceType:namespaceResource"`
}

// Policies (hcnpolicy.go).

type EndpointPolicyType string

type EndpointPolicy struct {
	Type     EndpointPolicyType `json:"Type"`
	Settings json.RawMessage    `json:"Settings" hnscheck:"by=Type:endpointPolicy"`
}

type NetworkPolicyType string

type NetworkPolicy struct {
	Type     NetworkPolicyType `json:"Type"`
	Settings json.RawMessage   `json:"Settings" hnscheck:"by=Type:networkPolicy"`
}

type SubnetPolicyType string

type SubnetPolicy struct {
	Type     SubnetPolicyType `json:"Type"`
	Settings json.RawMessage  `json:"Settings" hnscheck:"by=Type:subnetPolicy"`
}

type NatFlags uint32

type PortMappingPolicySetting struct {
	Protocol     uint32   `json:"Protocol"`
	InternalPort uint16   `json:"InternalPort"`
	ExternalPort uint16   `json:"ExternalPort"`
	VIP          string   `json:"VIP" hnscheck:"fmt=ip"`
	Flags        NatFlags `json:"Flags"`
}

type ActionType string
type DirectionType string
type RuleType string

type AclPolicySetting struct {
	Protocols       string        `json:"Protocols" hnscheck:"fmt=protocols"`
	Action          ActionType    `json:"Action"`
	Direction       DirectionType `json:"Direction"`
	LocalAddresses  string        `json:"LocalAddresses" hnscheck:"fmt=addresses"`
	RemoteAddresses string        `json:"RemoteAddresses" hnscheck:"fmt=addresses"`
	LocalPorts      string        `json:"LocalPorts" hnscheck:"fmt=ports"`
	RemotePorts     string        `json:"RemotePorts" hnscheck:"fmt=ports"`
	RuleType        RuleType      `json:"RuleType"`
	Priority        uint16        `json:"Priority"`
}

type QosPolicySetting struct {
	MaximumOutgoingBandwidthInBytes uint64 `json:"MaximumOutgoingBandwidthInBytes"`
}

type OutboundNatPolicySetting struct {
	VirtualIP        string   `json:"VirtualIP" hnscheck:"fmt=ip"`
	Exceptions       []string `json:"Exceptions"`
	Destinations     []string `json:"Destinations"`
	Flags            NatFlags `json:"Flags"`
	MaxPortPoolUsage uint16   `json:"MaxPortPoolUsage"`
}

type SDNRoutePolicySetting struct {
	DestinationPrefix string `json:"DestinationPrefix" hnscheck:"fmt=prefix"`
	NextHop           string `json:"NextHop" hnscheck:"fmt=ip"`
	NeedEncap         bool   `json:"NeedEncap"`
}

type NetworkACLPolicySetting struct {
	Protocols       string        `json:"Protocols" hnscheck:"fmt=protocols"`
	Action          ActionType    `json:"Action"`
	Direction       DirectionType `json:"Direction"`
	LocalAddresses  string        `json:"LocalAddresses" hnscheck:"fmt=addresses"`
	RemoteAddresses string        `json:"RemoteAddresses" hnscheck:"fmt=addresses"`
	LocalPorts      string        `json:"LocalPorts" hnscheck:"fmt=ports"`
	RemotePorts     string        `json:"RemotePorts" hnscheck:"fmt=ports"`
	RuleType        RuleType      `json:"RuleType"`
	Priority        uint16        `json:"Priority"`
}

type FiveTuple struct {
	Protocols       string `json:"Protocols" hnscheck:"fmt=protocols"`
	LocalAddresses  string `json:"LocalAddresses" hnscheck:"fmt=addresses"`
	RemoteAddresses string `json:"RemoteAddresses" hnscheck:"fmt=addresses"`
	LocalPorts      string `json:"LocalPorts" hnscheck:"fmt=ports"`
	RemotePorts     string `json:"RemotePorts" hnscheck:"fmt=ports"`
	Priority        uint16 `json:"Priority"`
}

type ProxyExceptions struct {
	IpAddressExceptions []string `json:"IpAddressExceptions"`
	PortExceptions      []string `json:"PortExceptions"`
}

type L4WfpProxyPolicySetting struct {
	InboundProxyPort   string          `json:"InboundProxyPort"`
	OutboundProxyPort  string          `json:"OutboundProxyPort"`
	FilterTuple        FiveTuple       `json:"FilterTuple"`
	UserSID            string          `json:"UserSID"`
	InboundExceptions  ProxyExceptions `json:"InboundExceptions"`
	OutboundExceptions ProxyExceptions `json:"OutboundExceptions"`
}

type PortnameEndpointPolicySetting struct {
	Name string `json:"Name"`
}

type EncapOverheadEndpointPolicySetting struct {
	Overhead uint16 `json:"Overhead"`
}

type IovPolicySetting struct {
	IovOffloadWeight    uint32 `json:"IovOffloadWeight"`
	QueuePairsRequested uint32 `json:"QueuePairsRequested"`
	InterruptModeration uint32 `json:"InterruptModeration"`
}

type ProviderAddressEndpointPolicySetting struct {
	ProviderAddress string `json:"ProviderAddress" hnscheck:"fmt=ip"`
}

type InterfaceConstraintPolicySetting struct {
	InterfaceGuid        string `json:"InterfaceGuid"`
	InterfaceLuid        uint64 `json:"InterfaceLuid"`
	InterfaceIndex       uint32 `json:"InterfaceIndex"`
	InterfaceMediaType   uint32 `json:"InterfaceMediaType"`
	InterfaceAlias       string `json:"InterfaceAlias"`
	InterfaceDescription string `json:"InterfaceDescription"`
}

type SourceMacAddressNetworkPolicySetting struct {
	SourceMacAddress string `json:"SourceMacAddress"`
}

type NetAdapterNameNetworkPolicySetting struct {
	NetworkAdapterName string `json:"NetworkAdapterName"`
}

type ProviderAddressNetworkPolicySetting struct {
	ProviderAddress string `json:"ProviderAddress" hnscheck:"fmt=ip"`
}

type VSwitchExtensionNetworkPolicySetting struct {
	ExtensionID string `json:"ExtensionID"`
	Enable      bool   `json:"Enable"`
}

type DrMacAddressNetworkPolicySetting struct {
	Address string `json:"Address"`
}

type AutomaticDNSNetworkPolicySetting struct {
	Enable bool `json:"Enable"`
}

type LayerConstraintNetworkPolicySetting struct {
	LayerId string `json:"LayerId"`
}

type VlanPolicySetting struct {
	IsolationId uint32 `json:"IsolationId"`
}

type VsidPolicySetting struct {
	IsolationId uint32 `json:"IsolationId"`
}

type RemoteSubnetRoutePolicySetting struct {
	DestinationPrefix           string `json:"DestinationPrefix" hnscheck:"fmt=prefix"`
	IsolationId                 uint16 `json:"IsolationId"`
	ProviderAddress             string `json:"ProviderAddress" hnscheck:"fmt=ip"`
	DistributedRouterMacAddress string `json:"DistributedRouterMacAddress"`
}

type SetPolicyType string

type SetPolicySetting struct {
	Id     string        `json:"Id"`
	Name   string        `json:"Name"`
	Type   SetPolicyType `json:"PolicyType"`
	Values string        `json:"Values"`
}

type VxlanPortPolicySetting struct {
	Port uint16 `json:"Port"`
}

type ProtocolType uint32

type L4ProxyPolicySetting struct {
	IP          string       `json:"IP" hnscheck:"fmt=ip"`
	Port        string       `json:"Port"`
	Protocol    ProtocolType `json:"Protocol"`
	Exceptions  []string     `json:"Exceptions"`
	Destination string       `json:"Destination"`
	OutboundNAT bool         `json:"OutboundNAT"`
}

type TierAclRule struct {
	Id                string     `json:"Id"`
	Protocols         string     `json:"Protocols" hnscheck:"fmt=protocols"`
	TierAclRuleAction ActionType `json:"TierAclRuleAction"`
	LocalAddresses    string     `json:"LocalAddresses" hnscheck:"fmt=addresses"`
	RemoteAddresses   string     `json:"RemoteAddresses" hnscheck:"fmt=addresses"`
	LocalPorts        string     `json:"LocalPorts" hnscheck:"fmt=ports"`
	RemotePorts       string     `json:"RemotePorts" hnscheck:"fmt=ports"`
	Priority          uint16     `json:"Priority"`
}

type TierAclPolicySetting struct {
	Name         string        `json:"Name"`
	Direction    DirectionType `json:"Direction"`
	Order        uint16        `json:"Order"`
	TierAclRules []TierAclRule `json:"TierAclRules"`
}

// NoSettings stands for the policy types and resource types to which hcsshim gives no settings
// struct: their Settings may be absent or {}, and any field in them is unknown.
type NoSettings struct{}

// ---------------------------------------------------------------------------------------------
// HNS (schema v1), package internal/hns (re-exported by package hcsshim)

type v1Subnet struct {
	AddressPrefix  string            `json:"AddressPrefix" hnscheck:"fmt=prefix"`
	GatewayAddress string            `json:"GatewayAddress" hnscheck:"fmt=ip"`
	Policies       []json.RawMessage `json:"Policies" hnscheck:"self=Type:v1Policy"`
}

type v1MacPool struct {
	StartMacAddress string `json:"StartMacAddress"`
	EndMacAddress   string `json:"EndMacAddress"`
}

type HNSNetwork struct {
	Id                   string            `json:"ID" hnscheck:"fmt=guid"`
	Name                 string            `json:"Name"`
	Type                 string            `json:"Type"`
	NetworkAdapterName   string            `json:"NetworkAdapterName"`
	SourceMac            string            `json:"SourceMac"`
	Policies             []json.RawMessage `json:"Policies" hnscheck:"self=Type:v1Policy"`
	MacPools             []v1MacPool       `json:"MacPools"`
	Subnets              []v1Subnet        `json:"Subnets"`
	DNSSuffix            string            `json:"DNSSuffix"`
	DNSServerList        string            `json:"DNSServerList"`
	DNSServerCompartment uint32            `json:"DNSServerCompartment"`
	ManagementIP         string            `json:"ManagementIP"`
	AutomaticDNS         bool              `json:"AutomaticDNS"`
}

type v1NamespaceResource struct {
	Type string          `json:"Type"`
	Data json.RawMessage `json:"Data" hnscheck:"any"`
}

type v1Namespace struct {
	ID            string                `json:"ID"`
	IsDefault     bool                  `json:"IsDefault"`
	ResourceList  []v1NamespaceResource `json:"ResourceList"`
	CompartmentId uint32                `json:"CompartmentId"`
}

type EndpointState uint16

type HNSEndpoint struct {
	Id                 string            `json:"ID" hnscheck:"fmt=guid"`
	Name               string            `json:"Name"`
	VirtualNetwork     string            `json:"VirtualNetwork" hnscheck:"fmt=guid"`
	VirtualNetworkName string            `json:"VirtualNetworkName"`
	Policies           []json.RawMessage `json:"Policies" hnscheck:"self=Type:v1Policy"`
	MacAddress         string            `json:"MacAddress"`
	IPAddress          net.IP            `json:"IPAddress"`
	IPv6Address        net.IP            `json:"IPv6Address"`
	DNSSuffix          string            `json:"DNSSuffix"`
	DNSServerList      string            `json:"DNSServerList"`
	DNSDomain          string            `json:"DNSDomain"`
	GatewayAddress     string            `json:"GatewayAddress" hnscheck:"fmt=ip"`
	GatewayAddressV6   string            `json:"GatewayAddressV6" hnscheck:"fmt=ip"`
	EnableInternalDNS  bool              `json:"EnableInternalDNS"`
	DisableICC         bool              `json:"DisableICC"`
	PrefixLength       uint8             `json:"PrefixLength"`
	IPv6PrefixLength   uint8             `json:"IPv6PrefixLength"`
	IsRemoteEndpoint   bool              `json:"IsRemoteEndpoint"`
	EnableLowMetric    bool              `json:"EnableLowMetric"`
	Namespace          *v1Namespace      `json:"Namespace"`
	EncapOverhead      uint16            `json:"EncapOverhead"`
	SharedContainers   []string          `json:"SharedContainers"`
	State              EndpointState     `json:"State"`
}

type PolicyList struct {
	ID                 string            `json:"ID"`
	EndpointReferences []string          `json:"References"`
	Policies           []json.RawMessage `json:"Policies" hnscheck:"self=Type:v1Policy"`
}

// v1 policies carry their Type beside their fields (hnspolicy.go, hnspolicylist.go).

type PolicyType string
type v1ActionType string
type v1DirectionType string
type v1RuleType string

type Policy struct {
	Type PolicyType `json:"Type"`
}

type NatPolicy struct {
	Type                 PolicyType `json:"Type"`
	Protocol             string     `json:"Protocol"`
	InternalPort         uint16     `json:"InternalPort"`
	ExternalPort         uint16     `json:"ExternalPort"`
	ExternalPortReserved bool       `json:"ExternalPortReserved"`
}

type QosPolicy struct {
	Type                            PolicyType `json:"Type"`
	MaximumOutgoingBandwidthInBytes uint64     `json:"MaximumOutgoingBandwidthInBytes"`
}

type IsolationPolicy struct {
	Type               PolicyType `json:"Type"`
	VLAN               uint       `json:"VLAN"`
	VSID               uint       `json:"VSID"`
	InDefaultIsolation bool       `json:"InDefaultIsolation"`
}

type VlanPolicy struct {
	Type PolicyType `json:"Type"`
	VLAN uint       `json:"VLAN"`
}

type VsidPolicy struct {
	Type PolicyType `json:"Type"`
	VSID uint       `json:"VSID"`
}

type PaPolicy struct {
	Type PolicyType `json:"Type"`
	PA   string     `json:"PA" hnscheck:"fmt=ip"`
}

// hcsshim embeds Policy (the Type) in the next three; the JSON is flat.

type OutboundNatPolicy struct {
	Type             PolicyType `json:"Type"`
	VIP              string     `json:"VIP" hnscheck:"fmt=ip"`
	Exceptions       []string   `json:"ExceptionList"`
	Destinations     []string   `json:"Destinations"`
	MaxPortPoolUsage uint16     `json:"MaxPortPoolUsage"`
}

type RoutePolicy struct {
	Type              PolicyType `json:"Type"`
	DestinationPrefix string     `json:"DestinationPrefix" hnscheck:"fmt=prefix"`
	NextHop           string     `json:"NextHop" hnscheck:"fmt=ip"`
	EncapEnabled      bool       `json:"NeedEncap"`
}

type ELBPolicy struct {
	Type         PolicyType `json:"Type"`
	Protocol     uint16     `json:"Protocol"`
	InternalPort uint16     `json:"InternalPort"`
	ExternalPort uint16     `json:"ExternalPort"`
	SourceVIP    string     `json:"SourceVIP" hnscheck:"fmt=ip"`
	VIPs         []string   `json:"VIPs"`
	ILB          bool       `json:"ILB"`
	DSR          bool       `json:"IsDSR"`
}

type ProxyPolicy struct {
	Type          PolicyType `json:"Type"`
	IP            string     `json:"IP" hnscheck:"fmt=ip"`
	Port          string     `json:"Port"`
	ExceptionList []string   `json:"ExceptionList"`
	Destination   string     `json:"Destination"`
	OutboundNat   bool       `json:"OutboundNat"`
}

type ACLPolicy struct {
	Type            PolicyType      `json:"Type"`
	Id              string          `json:"Id"`
	Protocol        uint16          `json:"Protocol"`
	Protocols       string          `json:"Protocols" hnscheck:"fmt=protocols"`
	InternalPort    uint16          `json:"InternalPort"`
	Action          v1ActionType    `json:"Action"`
	Direction       v1DirectionType `json:"Direction"`
	LocalAddresses  string          `json:"LocalAddresses" hnscheck:"fmt=addresses"`
	RemoteAddresses string          `json:"RemoteAddresses" hnscheck:"fmt=addresses"`
	LocalPorts      string          `json:"LocalPorts" hnscheck:"fmt=ports"`
	LocalPort       uint16          `json:"LocalPort"`
	RemotePorts     string          `json:"RemotePorts" hnscheck:"fmt=ports"`
	RemotePort      uint16          `json:"RemotePort"`
	RuleType        v1RuleType      `json:"RuleType"`
	Priority        uint16          `json:"Priority"`
	ServiceName     string          `json:"ServiceName"`
}

// ---------------------------------------------------------------------------------------------
// Registries

func typeOf(v interface{}) reflect.Type { return reflect.TypeOf(v) }

// types are the names the command line takes: hcsshim's type names (HNS v1 as the hcsshim
// package re-exports them).
var types = map[string]reflect.Type{}

func register(vs ...interface{}) {
	for _, v := range vs {
		t := typeOf(v)
		types[t.Name()] = t
	}
}

func init() {
	register(
		// HCN v2: objects, requests, policies and their settings.
		HostComputeNetwork{}, HostComputeEndpoint{}, HostComputeNamespace{},
		ModifyNetworkSettingRequest{}, ModifyEndpointSettingRequest{}, ModifyNamespaceSettingRequest{},
		PolicyNetworkRequest{}, PolicyEndpointRequest{}, VmEndpointRequest{},
		NamespaceResource{}, NamespaceResourceEndpoint{}, NamespaceResourceContainer{},
		EndpointPolicy{}, NetworkPolicy{}, SubnetPolicy{},
		Route{}, Subnet{}, Ipam{}, MacPool{}, MacRange{}, Dns{}, IpConfig{}, SchemaVersion{}, Health{},
		PortMappingPolicySetting{}, AclPolicySetting{}, QosPolicySetting{}, OutboundNatPolicySetting{},
		SDNRoutePolicySetting{}, NetworkACLPolicySetting{}, FiveTuple{}, ProxyExceptions{},
		L4WfpProxyPolicySetting{}, PortnameEndpointPolicySetting{}, EncapOverheadEndpointPolicySetting{},
		IovPolicySetting{}, ProviderAddressEndpointPolicySetting{}, InterfaceConstraintPolicySetting{},
		SourceMacAddressNetworkPolicySetting{}, NetAdapterNameNetworkPolicySetting{},
		ProviderAddressNetworkPolicySetting{}, VSwitchExtensionNetworkPolicySetting{},
		DrMacAddressNetworkPolicySetting{}, AutomaticDNSNetworkPolicySetting{},
		LayerConstraintNetworkPolicySetting{}, VlanPolicySetting{}, VsidPolicySetting{},
		RemoteSubnetRoutePolicySetting{}, SetPolicySetting{}, VxlanPortPolicySetting{},
		L4ProxyPolicySetting{}, TierAclRule{}, TierAclPolicySetting{},
		// HNS v1.
		HNSNetwork{}, HNSEndpoint{}, PolicyList{},
		Policy{}, NatPolicy{}, QosPolicy{}, IsolationPolicy{}, VlanPolicy{}, VsidPolicy{}, PaPolicy{},
		OutboundNatPolicy{}, RoutePolicy{}, ELBPolicy{}, ProxyPolicy{}, ACLPolicy{},
	)
}

// tables map a discriminator's value to the struct of the value it governs.
var tables = map[string]map[string]reflect.Type{
	// EndpointPolicy.Settings by Type (hcn EndpointPolicyType constants).
	"endpointPolicy": {
		"PortMapping":         typeOf(PortMappingPolicySetting{}),
		"ACL":                 typeOf(AclPolicySetting{}),
		"QOS":                 typeOf(QosPolicySetting{}),
		"L2Driver":            typeOf(NoSettings{}),
		"OutBoundNAT":         typeOf(OutboundNatPolicySetting{}),
		"SDNRoute":            typeOf(SDNRoutePolicySetting{}),
		"L4Proxy":             typeOf(L4ProxyPolicySetting{}),
		"L4WFPPROXY":          typeOf(L4WfpProxyPolicySetting{}),
		"PortName":            typeOf(PortnameEndpointPolicySetting{}),
		"EncapOverhead":       typeOf(EncapOverheadEndpointPolicySetting{}),
		"Iov":                 typeOf(IovPolicySetting{}),
		"ProviderAddress":     typeOf(ProviderAddressEndpointPolicySetting{}),
		"InterfaceConstraint": typeOf(InterfaceConstraintPolicySetting{}),
		"TierAcl":             typeOf(TierAclPolicySetting{}),
	},
	// NetworkPolicy.Settings by Type (hcn NetworkPolicyType constants).
	"networkPolicy": {
		"SourceMacAddress":    typeOf(SourceMacAddressNetworkPolicySetting{}),
		"NetAdapterName":      typeOf(NetAdapterNameNetworkPolicySetting{}),
		"VSwitchExtension":    typeOf(VSwitchExtensionNetworkPolicySetting{}),
		"DrMacAddress":        typeOf(DrMacAddressNetworkPolicySetting{}),
		"AutomaticDNS":        typeOf(AutomaticDNSNetworkPolicySetting{}),
		"InterfaceConstraint": typeOf(InterfaceConstraintPolicySetting{}),
		"ProviderAddress":     typeOf(ProviderAddressNetworkPolicySetting{}),
		"RemoteSubnetRoute":   typeOf(RemoteSubnetRoutePolicySetting{}),
		"VxlanPort":           typeOf(VxlanPortPolicySetting{}),
		"HostRoute":           typeOf(NoSettings{}),
		"SetPolicy":           typeOf(SetPolicySetting{}),
		"L4Proxy":             typeOf(L4ProxyPolicySetting{}),
		"LayerConstraint":     typeOf(LayerConstraintNetworkPolicySetting{}),
		"NetworkACL":          typeOf(NetworkACLPolicySetting{}),
	},
	// SubnetPolicy.Settings by Type.
	"subnetPolicy": {
		"VLAN": typeOf(VlanPolicySetting{}),
		"VSID": typeOf(VsidPolicySetting{}),
	},
	// ModifyEndpointSettingRequest.Settings by ResourceType: what hcn's endpoint policy calls
	// send for Policy; the switch-port request for Port.
	"endpointResource": {
		"Policy": typeOf(PolicyEndpointRequest{}),
		"Port":   typeOf(VmEndpointRequest{}),
	},
	// ModifyNetworkSettingRequest.Settings by ResourceType (hcsshim has a struct for Policy only).
	"networkResource": {
		"Policy":    typeOf(PolicyNetworkRequest{}),
		"DNS":       typeOf(NoSettings{}),
		"Extension": typeOf(NoSettings{}),
	},
	// NamespaceResource.Data and ModifyNamespaceSettingRequest.Settings by type.
	"namespaceResource": {
		"Container": typeOf(NamespaceResourceContainer{}),
		"Endpoint":  typeOf(NamespaceResourceEndpoint{}),
	},
	// HNS v1 policies by their own Type (internal/hns PolicyType constants).
	"v1Policy": {
		"NAT":         typeOf(NatPolicy{}),
		"ACL":         typeOf(ACLPolicy{}),
		"PA":          typeOf(PaPolicy{}),
		"VLAN":        typeOf(VlanPolicy{}),
		"VSID":        typeOf(VsidPolicy{}),
		"VNET":        typeOf(Policy{}),
		"L2Driver":    typeOf(Policy{}),
		"Isolation":   typeOf(IsolationPolicy{}),
		"QOS":         typeOf(QosPolicy{}),
		"OutBoundNAT": typeOf(OutboundNatPolicy{}),
		"ELB":         typeOf(ELBPolicy{}),
		"ROUTE":       typeOf(RoutePolicy{}),
		"PROXY":       typeOf(ProxyPolicy{}),
	},
}
